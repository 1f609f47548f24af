package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ringwire/ringwire/benchdash/store"
	"github.com/ringwire/ringwire/benchdash/web"
)

func cmdServe(e *env, args []string) int {
	fs := e.flags("serve")
	db := fs.String("db", DefaultDB, "database file")
	addr := fs.String("addr", DefaultAddr, "address to listen on")
	results := fs.String("results", DefaultResults, "committed results directory, imported at start")
	runs := fs.String("runs", DefaultRuns, "this machine's results directory (not tracked by git), imported at start too; uploads (POST /api/runs) are saved there")
	doImport := fs.Bool("import", true, "at start, import the results files of -results and -runs that the database lacks, and the baselines of -results/baselines.json it lacks")
	token := fs.String("token", os.Getenv(EnvToken), "write token POST /api/runs must carry (Authorization: Bearer); default $"+EnvToken+"; without one only loopback clients may post")
	repo := fs.String("repo", ".", "git repository whose history orders the history charts' commits (falls back to when each commit was first measured)")
	if _, err := parse(fs, args); err != nil {
		return ExitUsage
	}
	st, code := e.open(*db)
	if st == nil {
		return code
	}
	defer st.Close()
	if *doImport {
		if err := e.importResults(st, *results, *runs); err != nil {
			e.errorf("serve: import: %v", err)
			return ExitFailure
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		e.errorf("serve: %v", err)
		return ExitFailure
	}
	if abs, err := filepath.Abs(*repo); err == nil {
		*repo = abs
	}
	srv := &http.Server{Handler: web.New(st, web.Options{ResultsDir: *runs, Commits: &web.GitHistory{Dir: *repo}, Token: *token}), ReadHeaderTimeout: 10 * time.Second}
	e.printf("benchdash serving http://%s/ (database %s)\n", ln.Addr(), st.Path())
	if *token == "" {
		e.printf("no write token: only this host (loopback) may post runs\n")
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err = <-done:
	case <-e.ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
		<-done
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		e.errorf("serve: %v", err)
		return ExitFailure
	}
	return ExitOK
}

// importResults stores the results files of the committed results
// directory and of this machine's runs directory that the database lacks
// (a fresh clone's, or one whose cache was deleted), oldest name first, and
// restores each baseline of baselines.json that the database has no
// baseline of that machine and name for, when its run arrives (so later
// runs are compared against it, as rebuild does). Files already stored are
// recognised by their content hash, so running it again stores nothing. A
// file that does not parse is reported and skipped.
func (e *env) importResults(st *store.Store, results, runs string) error {
	files, err := listResults(results)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if local, err := listResults(runs); err == nil {
		files = append(files, local...)
	}
	sort.SliceStable(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
	bases, err := readBaselines(results)
	if err != nil {
		return err
	}
	have := map[[2]string]bool{}
	stored, err := st.Baselines(e.ctx)
	if err != nil {
		return err
	}
	for _, b := range stored {
		have[[2]string{b.Machine, b.Name}] = true
	}
	added, restored := 0, 0
	err = st.Bulk(e.ctx, func(b *store.Batch) error {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			run, err := store.ParseBytes(data, fileBase(f), store.Overrides{Time: modTime(f)})
			if err != nil {
				e.errorf("serve: import: skipping %s: %v", f, err)
				continue
			}
			res, err := b.Add(run)
			switch {
			case errors.Is(err, store.ErrDuplicate):
			case err != nil:
				return err
			default:
				added++
			}
			for _, bl := range bases {
				if bl.Hash != run.Hash || have[[2]string{bl.Machine, bl.Name}] {
					continue
				}
				if err := b.SetBaseline(bl.Machine, bl.Name, res.RunID); err != nil {
					return err
				}
				have[[2]string{bl.Machine, bl.Name}] = true
				restored++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if added > 0 || restored > 0 {
		e.printf("imported %d results files from %s and %s, %d baselines from %s\n", added, results, runs, restored, BaselinesFile)
	}
	return nil
}
