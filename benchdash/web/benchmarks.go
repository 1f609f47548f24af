package web

import (
	"net/http"

	"github.com/ringwire/ringwire/benchdash/store"
)

// benchmarksData is what the benchmarks list (GET /benchmarks) shows.
type benchmarksData struct {
	page
	Benchmarks []store.Benchmark
}

func (s *Server) benchmarksPage(w http.ResponseWriter, r *http.Request) {
	bs, err := s.st.Benchmarks(r.Context())
	if err != nil {
		s.fail(w, r, err, false)
		return
	}
	s.render(w, r, "benchmarks", &benchmarksData{page: page{Title: "Benchmarks", JSON: "/api/benchmarks"}, Benchmarks: bs})
}
