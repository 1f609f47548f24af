package cli

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ringwire/ringwire/benchdash/store"
)

func cmdRebuild(e *env, args []string) int {
	fs := e.flags("rebuild")
	db := fs.String("db", DefaultDB, "database file to recreate")
	results := fs.String("results", DefaultResults, "committed results directory to read (with its baselines.json)")
	runs := fs.String("runs", DefaultRuns, "this machine's results directory to read too, if it exists")
	if _, err := parse(fs, args); err != nil {
		return ExitUsage
	}
	if store.IsPostgres(*db) {
		// rebuild recreates a file beside the old one and swaps them; a
		// server's database is rebuilt by migrating a rebuilt file into it.
		e.errorf("rebuild: -db %s is a PostgreSQL database: rebuild a file (-db bench/local/benchdash.db) and copy it with `benchdash migrate -from bench/local/benchdash.db -to %s`", store.Redact(*db), store.Redact(*db))
		return ExitUsage
	}
	files, err := listResults(*results)
	if err != nil {
		e.errorf("rebuild: %v", err)
		return ExitFailure
	}
	if local, err := listResults(*runs); err == nil {
		// Both directories' names start with the date: merged, in time order.
		files = append(files, local...)
		sort.SliceStable(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	}
	bases, err := readBaselines(*results)
	if err != nil {
		e.errorf("rebuild: %v", err)
		return ExitFailure
	}
	tmp := *db + ".rebuild"
	removeDB(tmp)
	st, code := e.open(tmp)
	if st == nil {
		return code
	}
	code = ExitOK
	stored, restored := 0, 0
	err = st.Bulk(e.ctx, func(b *store.Batch) error {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			run, err := store.ParseBytes(data, fileBase(f), store.Overrides{Time: modTime(f)})
			if err != nil {
				e.errorf("rebuild: skipping %s: %v", f, err)
				code = ExitFailure
				continue
			}
			res, err := b.Add(run)
			if errors.Is(err, store.ErrDuplicate) {
				e.printf("%s: same content as run %d, skipped\n", f, res.RunID)
				continue
			}
			if err != nil {
				return err
			}
			stored++
			// A baseline takes effect from its own run on, so the runs
			// after it are compared against it, as when it was saved.
			for _, bl := range bases {
				if bl.Hash == run.Hash {
					if err := b.SetBaseline(bl.Machine, bl.Name, res.RunID); err != nil {
						return err
					}
					restored++
				}
			}
		}
		return nil
	})
	if err == nil && restored < len(bases) {
		e.errorf("rebuild: %d of %d baselines in %s name results files that were not found", len(bases)-restored, len(bases), BaselinesFile)
		code = ExitFailure
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		e.errorf("rebuild: %v", err)
		removeDB(tmp)
		return ExitFailure
	}
	removeDB(*db)
	if err := os.Rename(tmp, *db); err != nil {
		e.errorf("rebuild: %v", err)
		return ExitFailure
	}
	e.printf("rebuilt %s: %d runs from %d files in %s and %s, %d baselines\n", *db, stored, len(files), *results, *runs, restored)
	return code
}

func fileBase(path string) string { return filepath.Base(path) }

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// removeDB removes a database file and its WAL companions.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}
