package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/ringwire/ringwire/benchdash/web"
)

func cmdServe(e *env, args []string) int {
	fs := e.flags("serve")
	db := fs.String("db", DefaultDB, "database file")
	addr := fs.String("addr", DefaultAddr, "address to listen on")
	results := fs.String("results", DefaultResults, "directory where uploads (POST /api/runs) are saved")
	if _, err := parse(fs, args); err != nil {
		return ExitUsage
	}
	st, code := e.open(*db)
	if st == nil {
		return code
	}
	defer st.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		e.errorf("serve: %v", err)
		return ExitFailure
	}
	srv := &http.Server{Handler: web.New(st, web.Options{ResultsDir: *results}), ReadHeaderTimeout: 10 * time.Second}
	e.printf("benchdash serving http://%s/ (database %s)\n", ln.Addr(), st.Path())
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
