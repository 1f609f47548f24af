package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ringwire/ringwire/benchdash/internal/benchgen"
	"github.com/ringwire/ringwire/benchdash/internal/pgtest"
	"github.com/ringwire/ringwire/benchdash/store"
)

// storeCase opens an empty store of one kind for a test.
type storeCase struct {
	name string
	open func(t *testing.T) *store.Store
}

// testStores are the stores the many-writers tests run against: the
// embedded SQLite file and a throwaway PostgreSQL database (pgtest; skipped
// without PostgreSQL installed, failed then under RINGWIRE_REQUIRE_ALL).
func testStores() []storeCase {
	open := func(t *testing.T, dsn string) *store.Store {
		st, err := store.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return []storeCase{
		{"sqlite", func(t *testing.T) *store.Store { return open(t, filepath.Join(t.TempDir(), "writers.db")) }},
		{"postgres", func(t *testing.T) *store.Store { return open(t, pgtest.DSN(t)) }},
	}
}

type postAnswer struct {
	code  int
	RunID int64  `json:"run_id"`
	Dup   bool   `json:"duplicate"`
	Error string `json:"error"`
}

func postRun(c *http.Client, url, token string, body []byte) (postAnswer, error) {
	req, err := http.NewRequest("POST", url+"/api/runs?name=ci.txt", bytes.NewReader(body))
	if err != nil {
		return postAnswer{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return postAnswer{}, err
	}
	defer resp.Body.Close()
	var a postAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil {
		return postAnswer{}, fmt.Errorf("answer %d: %w", resp.StatusCode, err)
	}
	a.code = resp.StatusCode
	return a, nil
}

// TestManyWriters: 20 machines post 10 runs each at once, each also
// re-posting a run of its own and the first run of another machine (a CI
// job's retry, racing the first POST). Every run and every sample arrives
// exactly once, each distinct file is answered 201 once and 200 with the
// same run id otherwise, the comparison against the previous run is
// computed once per run, and the pages agree with the database.
func TestManyWriters(t *testing.T) {
	for _, sc := range testStores() {
		t.Run(sc.name, func(t *testing.T) { testManyWriters(t, sc.open(t)) })
	}
}

func testManyWriters(t *testing.T, st *store.Store) {
	const machines, perMachine = 20, 10
	srv := httptest.NewServer(New(st, Options{Token: "ci-token"}))
	defer srv.Close()
	files := make([][][]byte, machines)
	wantSamples := 0
	for m := range machines {
		for i := range perMachine {
			s := spec(i, fmt.Sprintf("ci-%02d", m), nil)
			s.Benchmarks, s.Samples = 3, 5
			f := benchgen.File(s)
			files[m] = append(files[m], f)
			run, err := store.ParseBytes(f, "x", store.Overrides{})
			if err != nil {
				t.Fatal(err)
			}
			for _, smp := range run.Samples {
				wantSamples += len(smp.Values)
			}
		}
	}
	type answer struct {
		m, i int
		a    postAnswer
	}
	answers := make(chan answer, machines*(perMachine+2))
	var wg sync.WaitGroup
	for m := range machines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			post := func(pm, pi int) {
				a, err := postRun(srv.Client(), srv.URL, "ci-token", files[pm][pi])
				if err != nil {
					t.Errorf("machine %d run %d: %v", pm, pi, err)
					return
				}
				answers <- answer{pm, pi, a}
			}
			post((m+1)%machines, 0) // races the other machine's own first POST
			for i := range perMachine {
				post(m, i)
				if i == 4 {
					post(m, i) // a retry
				}
			}
		}()
	}
	wg.Wait()
	close(answers)
	created := map[[2]int]int64{}
	ids := map[[2]int]int64{}
	seen := map[int64][2]int{}
	n := 0
	for a := range answers {
		n++
		k := [2]int{a.m, a.i}
		switch a.a.code {
		case http.StatusCreated:
			if _, dup := created[k]; dup {
				t.Errorf("machine %d run %d created twice", a.m, a.i)
			}
			created[k] = a.a.RunID
		case http.StatusOK:
			if !a.a.Dup {
				t.Errorf("machine %d run %d: 200 without duplicate: %+v", a.m, a.i, a.a)
			}
		default:
			t.Errorf("machine %d run %d: %d %s", a.m, a.i, a.a.code, a.a.Error)
			continue
		}
		if id, ok := ids[k]; ok && id != a.a.RunID {
			t.Errorf("machine %d run %d answered run %d and run %d", a.m, a.i, id, a.a.RunID)
		}
		ids[k] = a.a.RunID
		if o, ok := seen[a.a.RunID]; ok && o != k {
			t.Errorf("run %d answered for two files: %v and %v", a.a.RunID, o, k)
		}
		seen[a.a.RunID] = k
	}
	if want := machines * (perMachine + 2); n != want {
		t.Errorf("%d answers, want %d", n, want)
	}
	if len(created) != machines*perMachine || len(ids) != machines*perMachine {
		t.Errorf("%d files created, %d answered, want %d", len(created), len(ids), machines*perMachine)
	}
	db := st.DB()
	count := func(q string) int {
		t.Helper()
		var c int
		if err := db.QueryRowContext(t.Context(), q).Scan(&c); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return c
	}
	if c := count(`SELECT COUNT(*) FROM runs`); c != machines*perMachine {
		t.Errorf("%d runs stored, want %d", c, machines*perMachine)
	}
	if c := count(`SELECT COUNT(*) FROM samples`); c != wantSamples {
		t.Errorf("%d samples stored, want %d", c, wantSamples)
	}
	if c := count(`SELECT COUNT(*) FROM (SELECT run_id, kind FROM comparisons WHERE kind <> 'adhoc' GROUP BY run_id, kind HAVING COUNT(*) > 1) AS d`); c != 0 {
		t.Errorf("%d runs with a comparison of one kind computed more than once", c)
	}
	// Each machine posted its runs in order: every run but the first has
	// its predecessor stored before it, and was compared with it once.
	if c := count(`SELECT COUNT(*) FROM comparisons WHERE kind = 'previous'`); c != machines*(perMachine-1) {
		t.Errorf("%d comparisons against the previous run, want %d", c, machines*(perMachine-1))
	}

	// The pages agree.
	get := func(path string) string {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	var list struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(get("/api/runs?limit=1")), &list); err != nil || list.Total != machines*perMachine {
		t.Errorf("/api/runs total %d (%v), want %d", list.Total, err, machines*perMachine)
	}
	if page := get("/"); !strings.Contains(page, fmt.Sprintf("%d runs", machines*perMachine)) {
		t.Errorf("runs list does not say %d runs", machines*perMachine)
	}
	page := get("/?machine=ci-07")
	for i := range perMachine {
		if !strings.Contains(page, fmt.Sprintf(`href="/runs/%d"`, ids[[2]int{7, i}])) {
			t.Errorf("runs list of ci-07 lacks its run %d (#%d)", i, ids[[2]int{7, i}])
		}
	}
	id5, id4 := ids[[2]int{7, 5}], ids[[2]int{7, 4}]
	var run struct {
		Run struct {
			ID      int64  `json:"id"`
			Machine string `json:"machine"`
		} `json:"run"`
		Base struct {
			ID int64 `json:"id"`
		} `json:"base"`
		Rows []jsonRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(get(fmt.Sprintf("/api/runs/%d", id5))), &run); err != nil {
		t.Fatal(err)
	}
	if run.Run.ID != id5 || run.Run.Machine != "ci-07" || run.Base.ID != id4 || len(run.Rows) != 3*4 {
		t.Errorf("/api/runs/%d: run %d on %q against %d with %d rows; want against %d (its previous) with 12 rows", id5, run.Run.ID, run.Run.Machine, run.Base.ID, len(run.Rows), id4)
	}
	for _, r := range run.Rows {
		if r.New.N != 5 || r.Old.N != 5 {
			t.Errorf("row %s %s: n=%d+%d, want 5+5", r.Name, r.Unit, r.Old.N, r.New.N)
		}
	}
	if html := get(fmt.Sprintf("/runs/%d", id5)); !strings.Contains(html, "Against the previous run") || !strings.Contains(html, "Op002-2") {
		t.Errorf("run page %d does not show its comparison with the previous run", id5)
	}
	// A retry after the fact stores nothing.
	a, err := postRun(srv.Client(), srv.URL, "ci-token", files[3][3])
	if err != nil || a.code != 200 || a.RunID != ids[[2]int{3, 3}] {
		t.Errorf("late retry: %+v %v", a, err)
	}
	if c := count(`SELECT COUNT(*) FROM runs`); c != machines*perMachine {
		t.Errorf("after the retry %d runs, want %d", c, machines*perMachine)
	}
}

// TestUploadStoreError: a store that fails (closed here) is answered 500
// after the one retry, with the error logged.
func TestUploadStoreError(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	h := New(st, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	st.Close()
	rec := postFrom(h, "127.0.0.1:1", "", benchgen.File(spec(0, "m", nil)))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), "benchdash request failed") {
		t.Errorf("POST to a closed store: %d %s; log %q", rec.Code, rec.Body, logs.String())
	}
}
