package realstack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// maxEcho bounds the body the echo handler reads: the client is another
// process, and its body is not trusted to be small.
const maxEcho = 1 << 20

// NewHTTPServer returns a server whose POST /echo answers with the request
// body (at most 1 MiB; larger bodies get 413).
func NewHTTPServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEcho))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// NewHTTPClient returns a client whose connections come from dial: one
// kept-alive HTTP/1.1 connection at a time, no compression. Its URLs may
// name any host; "http://realstack/echo" is the echo service.
func NewHTTPClient(dial func(ctx context.Context, addr string) (net.Conn, error)) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dial(ctx, addr)
		},
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}}
}

// EchoURL is the URL of the echo service for NewHTTPClient's clients.
const EchoURL = "http://realstack/echo"
