package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringwire/ringwire/benchdash/store"
)

// Environment variables read by post, verdict and serve.
const (
	EnvToken = "BENCHDASH_TOKEN" // the write token (serve -token, post -token)
	EnvURL   = "BENCHDASH_URL"   // the dashboard post and verdict -url talk to
)

// postBackoff is the wait before post's first retry; it doubles each
// retry, up to postMaxBackoff.
var postBackoff, postMaxBackoff = time.Second, 30 * time.Second

// maxAnswer bounds how much of a server's answer post reads.
const maxAnswer = 1 << 20

func defaultURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return "http://" + DefaultAddr
}

// cmdPost posts results files to a dashboard's POST /api/runs and prints
// the run id of each. Connection errors and 5xx answers are retried with
// a doubling wait; the server recognises a file it already stored (by
// content hash), so a retry never stores a run twice.
func cmdPost(e *env, args []string) int {
	fs := e.flags("post")
	base := fs.String("url", defaultURL(), "the dashboard's URL (default $"+EnvURL+", else http://"+DefaultAddr+")")
	token := fs.String("token", os.Getenv(EnvToken), "the dashboard's write token (default $"+EnvToken+")")
	retries := fs.Int("retries", 5, "retries of a file after a connection error or a 5xx answer")
	var o store.Overrides
	overrideFlags(fs, &o, "the server's host name")
	files, err := parse(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(files) == 0 {
		e.errorf("post: no files given")
		return ExitUsage
	}
	if *retries < 0 {
		e.errorf("post: -retries must not be negative")
		return ExitUsage
	}
	endpoint, err := runsEndpoint(*base)
	if err != nil {
		e.errorf("post: %v", err)
		return ExitUsage
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	defer client.CloseIdleConnections()
	code := ExitOK
	for _, f := range files {
		if err := e.postFile(client, endpoint, *token, f, o, *retries); err != nil {
			e.errorf("post: %v", err)
			code = ExitFailure
		}
	}
	return code
}

// runsEndpoint is base's /api/runs URL.
func runsEndpoint(base string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad -url %q: want http://host:port or https://host/path", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/runs"
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// postAnswer is POST /api/runs's answer.
type postAnswer struct {
	RunID       int64  `json:"run_id"`
	Duplicate   bool   `json:"duplicate"`
	Error       string `json:"error"`
	Comparisons []struct {
		Kind        string `json:"kind"`
		BaseID      int64  `json:"base_id"`
		Regressions int    `json:"regressions"`
	} `json:"comparisons"`
}

// errRetry marks a failure worth retrying: the server may answer next time.
var errRetry = errors.New("retryable")

func (e *env) postFile(client *http.Client, endpoint *url.URL, token, path string, o store.Overrides, retries int) error {
	data, err := readLimited(path)
	if err != nil {
		return err
	}
	u := *endpoint
	q := url.Values{"name": {filepath.Base(path)}}
	for k, v := range map[string]string{"machine": o.Machine, "branch": o.Branch, "commit": o.Commit} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	wait := postBackoff
	for attempt := 0; ; attempt++ {
		a, status, err := postOnce(e.ctx, client, u.String(), token, data)
		if err == nil {
			if a.Duplicate {
				e.printf("%s: run %d (already stored: same content)\n", path, a.RunID)
			} else {
				e.printf("%s: run %d\n", path, a.RunID)
				for _, c := range a.Comparisons {
					e.printf("  vs %s run %d: %d regressions\n", c.Kind, c.BaseID, c.Regressions)
				}
			}
			return nil
		}
		if !errors.Is(err, errRetry) || attempt >= retries || e.ctx.Err() != nil {
			if status != 0 {
				return fmt.Errorf("%s: %v (HTTP %d)", path, err, status)
			}
			return fmt.Errorf("%s: %v", path, err)
		}
		fmt.Fprintf(e.stderr, "benchdash: post: %s: %v; retrying in %v (%d of %d)\n", path, err, wait, attempt+1, retries)
		select {
		case <-time.After(wait):
		case <-e.ctx.Done():
			return fmt.Errorf("%s: %w", path, e.ctx.Err())
		}
		wait = min(2*wait, postMaxBackoff)
	}
}

// readLimited reads a results file no larger than the server takes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, store.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > store.MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, the most a dashboard takes", path, store.MaxFileSize)
	}
	return data, nil
}

// postOnce posts data once. The error wraps errRetry for a connection
// error or a 5xx answer.
func postOnce(ctx context.Context, client *http.Client, u, token string, data []byte) (postAnswer, int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", u, bytes.NewReader(data))
	if err != nil {
		return postAnswer{}, 0, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return postAnswer{}, 0, fmt.Errorf("%w: %v", errRetry, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return postAnswer{}, resp.StatusCode, fmt.Errorf("%w: reading the answer: %v", errRetry, err)
	}
	var a postAnswer
	jerr := json.Unmarshal(body, &a)
	switch {
	case resp.StatusCode >= 500:
		msg := a.Error
		if jerr != nil || msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		return a, resp.StatusCode, fmt.Errorf("%w: server error: %s", errRetry, clip(msg, 200))
	case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
		if jerr != nil || a.RunID <= 0 {
			return a, resp.StatusCode, fmt.Errorf("the answer names no run: %s", clip(string(body), 200))
		}
		return a, resp.StatusCode, nil
	}
	msg := a.Error
	if jerr != nil || msg == "" {
		msg = clip(string(body), 200)
	}
	return a, resp.StatusCode, fmt.Errorf("refused: %s", msg)
}

// clip shortens s to one line of at most n bytes, for an error message
// quoting what a server answered.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
