package cli

import (
	"os"
	"strings"

	"github.com/ringwire/ringwire/benchdash/store"
)

// cmdMigrate copies one store into another, typically the embedded SQLite
// file into a team's PostgreSQL database: every run the destination lacks
// (by content hash) with its labels and every sample, the comparisons
// stored for those runs, and the baselines. It runs in one transaction of
// the destination and may be run again: it then moves nothing.
func cmdMigrate(e *env, args []string) int {
	fs := e.flags("migrate")
	from := fs.String("from", DefaultDB, "database to copy from: a file, sqlite:FILE or postgres://...")
	to := fs.String("to", "", "database to copy into: postgres://... (its tables are created if missing), a file or sqlite:FILE")
	rest, err := parse(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(rest) > 0 || *to == "" {
		e.errorf("migrate: want -from DB -to DB, and no other arguments")
		return ExitUsage
	}
	if _, err := os.Stat(sqliteFile(*from)); err != nil && !store.IsPostgres(*from) {
		// Open would create an empty file: say what is wrong instead.
		e.errorf("migrate: %s: no such database file", *from)
		return ExitFailure
	}
	src, code := e.open(*from)
	if src == nil {
		return code
	}
	defer src.Close()
	dst, code := e.open(*to)
	if dst == nil {
		return code
	}
	defer dst.Close()
	st, err := store.Copy(e.ctx, dst, src)
	if err != nil {
		e.errorf("migrate: %v", err)
		return ExitFailure
	}
	e.printf("migrated %d runs (%d samples), %d comparisons, %d baselines from %s to %s; %d runs were already there\n",
		st.Runs, st.Samples, st.Comparisons, st.Baselines, src.Path(), dst.Path(), st.Present)
	return ExitOK
}

// sqliteFile returns the file an SQLite name for store.Open names.
func sqliteFile(name string) string {
	if p, ok := strings.CutPrefix(name, "sqlite:"); ok {
		return strings.TrimPrefix(p, "//")
	}
	return name
}
