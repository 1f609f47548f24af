package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringwire/ringwire/benchdash/store"
)

// apiIngest stores a benchmark results file POSTed to /api/runs, in one
// transaction with its comparisons (store.Ingest). It is idempotent by
// content hash: 201 with the new run's id, or 200 with the existing run's
// id (and "duplicate": true) when the same content is already stored, so
// retrying a POST is safe and many machines may post at once.
func (s *Server) apiIngest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := store.Overrides{Machine: q.Get("machine"), Branch: q.Get("branch"), Commit: q.Get("commit")}
	name := q.Get("name")
	if name == "" {
		name = "upload"
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, store.MaxFileSize))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("body larger than %d bytes", store.MaxFileSize)})
		return
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading body: " + err.Error()})
		return
	}
	run, err := store.ParseBytes(data, name, o)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	res, err := s.st.Ingest(r.Context(), run)
	if err != nil && !errors.Is(err, store.ErrDuplicate) && r.Context().Err() == nil {
		// A store error may be transient (a connection dropped, a
		// conflict with another writer the store did not retry itself):
		// ask once more. A run another POST stored meanwhile is then
		// found by its hash and answered as a duplicate.
		var again *store.IngestResult
		if again, err = s.st.Ingest(r.Context(), run); err == nil {
			res = again
		} else if errors.Is(err, store.ErrDuplicate) {
			res = again
		}
	}
	if errors.Is(err, store.ErrDuplicate) {
		// The same content is stored already: a CI job's retry of a POST
		// whose answer it lost. Answer as for the first POST, without
		// storing or comparing anything again.
		writeJSON(w, http.StatusOK, map[string]any{"run_id": res.RunID, "duplicate": true, "note": err.Error()})
		return
	}
	if err != nil {
		s.fail(w, r, err, true)
		return
	}
	if s.opts.ResultsDir != "" {
		if err := saveUpload(s.opts.ResultsDir, run, o, data); err != nil {
			s.opts.Logger.Error("saving upload to the results directory", "err", err)
		}
	}
	writeJSON(w, http.StatusCreated, res)
}

// saveUpload writes an accepted upload to dir, preceded by the overrides
// and the run's date as configuration lines, so that a rebuild finds it.
func saveUpload(dir string, run *store.Run, o store.Overrides, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var hdr strings.Builder
	for _, kv := range [][2]string{{"commit", o.Commit}, {"branch", o.Branch}, {"machine", o.Machine}} {
		if kv[1] != "" {
			fmt.Fprintf(&hdr, "%s: %s\n", kv[0], oneLine(kv[1]))
		}
	}
	if !strings.Contains(string(data), "\ndate:") && !strings.HasPrefix(string(data), "date:") {
		fmt.Fprintf(&hdr, "date: %s\n", run.Time.Format(time.RFC3339))
	}
	commit := run.Commit
	if commit == "" {
		commit = "upload"
	}
	name := fmt.Sprintf("%s-%s-run%d.txt", run.Time.Format("2006-01-02T150405Z"), safeName(commit), run.ID)
	return os.WriteFile(filepath.Join(dir, name), append([]byte(hdr.String()), data...), 0o644)
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 12 {
		b = b[:12]
	}
	return string(b)
}
