package web

import (
	"net/http"
	"net/url"
	"strconv"
)

// pathID is the positive {id} of the request's path.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("bad id %q", r.PathValue("id"))
	}
	return id, nil
}

func intParam(q url.Values, name string, def, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("bad %s %q: want a non-negative integer", name, v)
	}
	if max > 0 && n > max {
		n = max
	}
	return n, nil
}
