package web

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// guardWrite lets a request that changes the store (POST /api/runs)
// through only when it may write:
//
//   - with Options.Token set, when its Authorization header is "Bearer"
//     and the token (compared in constant time), whoever sends it;
//     otherwise 401, before the body is read, so nothing is stored;
//   - without a token, only from a loopback address (a developer's own
//     dashboard); from anywhere else 403, saying how to allow it.
//
// Reads are never guarded. A server behind a reverse proxy on the same
// host sees every request as coming from loopback: set a token there.
func (s *Server) guardWrite(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Token != "" {
			if !validToken(r.Header.Get("Authorization"), s.opts.Token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="benchdash"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this dashboard takes writes only with its token: send the header \"Authorization: Bearer <token>\" (benchdash post -token, or BENCHDASH_TOKEN)"})
				return
			}
		} else if !fromLoopback(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "this dashboard is read-only to the network: it has no write token, so only its own host (loopback) may post runs; start it with benchdash serve -token (or BENCHDASH_TOKEN) and post with that token"})
			return
		}
		next(w, r)
	}
}

// validToken reports whether the Authorization header value carries token
// as a bearer token, comparing in constant time.
func validToken(header, token string) bool {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), []byte(token)) == 1
}

// fromLoopback reports whether r's remote address is a loopback address.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
