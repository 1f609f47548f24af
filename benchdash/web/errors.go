package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ringwire/ringwire/benchdash/store"
)

// httpError is an error with the status it should be answered with.
type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Errorf(format, args...)}
}

func (s *Server) status(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.code
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, asJSON bool) {
	code := s.status(err)
	if code == http.StatusInternalServerError {
		s.opts.Logger.Error("benchdash request failed", "path", r.URL.Path, "err", err)
	}
	if asJSON {
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	http.Error(w, err.Error(), code)
}
