package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ringwire/ringwire/benchdash/web"
)

// cmdVerdict prints the gate's verdict on a run (web.JudgeRun: the verdict
// GET /api/verdict, the pages and bench give) as Markdown for a pull
// request's job summary, or as JSON; exit 1 when the run fails the gate.
// With -url it asks a dashboard instead of opening a database.
func cmdVerdict(e *env, args []string) int {
	fs := e.flags("verdict")
	db := fs.String("db", DefaultDB, "database file")
	remote := fs.String("url", "", "ask this dashboard's GET /api/verdict instead of opening -db")
	runSpec := fs.String("run", "latest", "run id, or latest (with -url: a run id)")
	against := fs.String("against", "", "run id to judge against (default: side A of the run's A/B session when it is a session's side B, else its machine's baseline)")
	threshold := fs.Float64("threshold", 0, "fail on regressions worse than this many percent (default: the session's threshold, else 10)")
	format := fs.String("format", "markdown", "markdown or json")
	if _, err := parse(fs, args); err != nil {
		return ExitUsage
	}
	if *format != "markdown" && *format != "json" {
		e.errorf("verdict: bad -format %q: want markdown or json", *format)
		return ExitUsage
	}
	if *threshold < 0 {
		e.errorf("verdict: -threshold must be positive")
		return ExitUsage
	}
	var againstID int64
	if *against != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(*against, "run:"), 10, 64)
		if err != nil || id <= 0 {
			e.errorf("verdict: bad -against %q: want a run id", *against)
			return ExitUsage
		}
		againstID = id
	}
	if *remote != "" {
		return e.remoteVerdict(*remote, *runSpec, againstID, *threshold, *format)
	}
	st, id, code := e.openRun(*db, *runSpec, "verdict")
	if st == nil {
		return code
	}
	defer st.Close()
	v, err := web.JudgeRun(e.ctx, st, id, againstID, *threshold)
	if err != nil {
		e.errorf("verdict: %v", err)
		return ExitFailure
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", " ")
		err = enc.Encode(v)
	} else {
		err = v.WriteMarkdown(e.stdout)
	}
	if err != nil {
		e.errorf("verdict: %v", err)
		return ExitFailure
	}
	if !v.Pass {
		return ExitFailure
	}
	return ExitOK
}

// remoteVerdict asks base's GET /api/verdict: as JSON for the exit code,
// and, for Markdown, as Markdown too (the server formats it).
func (e *env) remoteVerdict(base, runSpec string, against int64, threshold float64, format string) int {
	runID, err := strconv.ParseInt(runSpec, 10, 64)
	if err != nil || runID <= 0 {
		e.errorf("verdict: with -url, -run must be a run id (benchdash post prints it), not %q", runSpec)
		return ExitUsage
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.errorf("verdict: bad -url %q: want http://host:port", base)
		return ExitUsage
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/verdict"
	q := url.Values{"run": {strconv.FormatInt(runID, 10)}}
	if against > 0 {
		q.Set("against", strconv.FormatInt(against, 10))
	}
	if threshold > 0 {
		q.Set("threshold", strconv.FormatFloat(threshold, 'g', -1, 64))
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	defer client.CloseIdleConnections()
	get := func(f string) ([]byte, error) {
		q.Set("format", f)
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(e.ctx, "GET", u.String(), nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16*maxAnswer))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			var a struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(body, &a) != nil || a.Error == "" {
				a.Error = clip(string(body), 200)
			}
			return nil, fmt.Errorf("%s: HTTP %d: %s", u.Redacted(), resp.StatusCode, a.Error)
		}
		return body, nil
	}
	js, err := get("json")
	if err != nil {
		e.errorf("verdict: %v", err)
		return ExitFailure
	}
	var v web.Verdict
	if err := json.Unmarshal(js, &v); err != nil {
		e.errorf("verdict: %s answered: %v", base, err)
		return ExitFailure
	}
	out := js
	if format == "markdown" {
		if out, err = get("markdown"); err != nil {
			e.errorf("verdict: %v", err)
			return ExitFailure
		}
	}
	if _, err := e.stdout.Write(out); err != nil {
		return ExitFailure
	}
	if !v.Pass {
		return ExitFailure
	}
	return ExitOK
}
