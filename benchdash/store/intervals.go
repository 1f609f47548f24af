package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/ringwire/ringwire/benchdash/compare"
)

// RegressionIntervals returns, for each of rows, the two summaries (sample
// count, median and 95% confidence interval of the base run and of the
// run) that its stored comparison recorded, in the order of rows. A row
// whose comparison is gone gets summaries with N = 0.
func (s *Store) RegressionIntervals(ctx context.Context, rows []RegressionRow) ([][2]compare.Summary, error) {
	out := make([][2]compare.Summary, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	st, err := s.prepare(ctx, `SELECT d.old_n, d.old_center, d.old_lo, d.old_hi, d.new_n, d.new_center, d.new_lo, d.new_hi
		FROM comparisons c JOIN metrics m ON m.benchmark_id = ? AND m.unit = ?
		JOIN deltas d ON d.comparison_id = c.id AND d.metric_id = m.id
		WHERE c.run_id = ? AND c.base_id = ? AND c.kind = ?`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	for i, r := range rows {
		var oc, ol, oh, nc, nl, nh sql.NullFloat64
		o, n := &out[i][0], &out[i][1]
		err := st.QueryRowContext(ctx, r.BenchID, r.Unit, r.RunID, r.BaseID, r.Kind).Scan(&o.N, &oc, &ol, &oh, &n.N, &nc, &nl, &nh)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		o.Center, o.Lo, o.Hi = nf(oc), nf(ol), nf(oh)
		n.Center, n.Lo, n.Hi = nf(nc), nf(nl), nf(nh)
	}
	return out, nil
}
