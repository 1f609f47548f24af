// Package benchdash is ringwire's benchmark dashboard: a self-hosted,
// offline store of every benchmark run with benchstat-grade comparisons and
// a web UI, in one static binary with an embedded SQLite database.
//
// It keeps every sample of every benchmark and unit (not only a mean),
// compares runs with golang.org/x/perf/benchmath (medians, 95% confidence
// intervals, Mann-Whitney U-test p-values, geomeans), and keeps machines
// apart: each machine has its own baseline and its own series on charts.
//
// The pieces are importable:
//
//   - store: the SQLite database (schema migrations, ingest, queries);
//   - compare: comparisons of two sets of samples and the text table;
//   - web: the dashboard and its JSON endpoints;
//   - cli: the command line, Run(ctx, args, stdout, stderr) int;
//   - cmd/benchdash: the binary.
//
// From the repository root:
//
//	go run ./benchdash/cmd/benchdash bench -bench . ./pool ./protocol
//	go run ./benchdash/cmd/benchdash save -run latest
//	go run ./benchdash/cmd/benchdash compare -against previous
//	go run ./benchdash/cmd/benchdash serve -addr 127.0.0.1:8080
//
// In Go:
//
//	st, err := store.Open(ctx, "bench/benchdash.db")
//	run, err := store.Parse(f, "results.txt", store.Overrides{})
//	res, err := st.Ingest(ctx, run) // stores samples and comparisons
//	http.ListenAndServe("127.0.0.1:8080", web.New(st, web.Options{}))
package benchdash
