package web

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ringwire/ringwire/benchdash/store"
)

// CommitOrder tells the history chart the order of commits in a
// repository's history.
type CommitOrder interface {
	// Order returns the position of each commit it knows (full hashes),
	// oldest first, and a short description of where the order comes from.
	Order(ctx context.Context) (map[string]int, string, error)
}

// GitHistory is a CommitOrder that reads `git rev-list --topo-order
// --reverse --all` in Dir: every commit reachable from a ref, parents
// before children. It asks git again at most every TTL (default 30 s). No
// commit hash from a results file is ever passed to git.
type GitHistory struct {
	Dir string
	TTL time.Duration

	mu    sync.Mutex
	at    time.Time
	order map[string]int
	err   error
}

// gitTimeout bounds one `git rev-list`.
const gitTimeout = 10 * time.Second

// Order implements CommitOrder.
func (g *GitHistory) Order(ctx context.Context) (map[string]int, string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ttl := cmp.Or(g.TTL, 30*time.Second)
	if g.at.IsZero() || time.Since(g.at) > ttl {
		g.order, g.err = gitOrder(ctx, g.Dir)
		g.at = time.Now()
	}
	return g.order, "the git history of " + g.Dir, g.err
}

func gitOrder(ctx context.Context, dir string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "rev-list", "--topo-order", "--reverse", "--all")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git rev-list in %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	order := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if h := strings.TrimSpace(sc.Text()); h != "" {
			order[h] = len(order)
		}
	}
	return order, nil
}

// commitAxis is the history chart's x axis: the distinct commits of the
// points, in history order.
type commitAxis struct {
	Commits []axisCommit
	// Source says where the order came from, for the page's caption.
	Source string
	index  map[string]int
}

// axisCommit is one commit on the axis and the runs measured at it.
type axisCommit struct {
	Commit string
	Runs   []int64 // oldest first
	First  time.Time
	Known  bool // found in the commit order (else placed by First)
}

// newCommitAxis orders the commits of pts. Commits the order knows keep
// its order; the others (no repository, a commit from another clone, a
// short hash that matches none) are merged in by when they were first
// measured, as in a merge of two sorted lists, so that both orders hold.
// Without an order every commit is placed by when it was first measured.
func newCommitAxis(ctx context.Context, co CommitOrder, pts []store.Point) *commitAxis {
	ax := &commitAxis{index: map[string]int{}, Source: "when each commit was first measured (no git history)"}
	byCommit := map[string]*axisCommit{}
	var all []*axisCommit
	for _, p := range pts {
		c := byCommit[p.Commit]
		if c == nil {
			c = &axisCommit{Commit: p.Commit, First: p.Time}
			byCommit[p.Commit] = c
			all = append(all, c)
		}
		c.Runs = append(c.Runs, p.RunID)
		if p.Time.Before(c.First) || (p.Time.Equal(c.First) && p.RunID < slices.Min(c.Runs)) {
			c.First = p.Time
		}
	}
	// By first measured; at the same time (the two sides of a session),
	// by the first run stored.
	byTime := func(a, b *axisCommit) int {
		return cmp.Or(a.First.Compare(b.First), cmp.Compare(slices.Min(a.Runs), slices.Min(b.Runs)), cmp.Compare(a.Commit, b.Commit))
	}
	var order map[string]int
	if co != nil {
		var src string
		var err error
		if order, src, err = co.Order(ctx); err == nil {
			ax.Source = src + " (commits not in it by when they were first measured)"
		} else {
			ax.Source = "when each commit was first measured (" + err.Error() + ")"
			order = nil
		}
	}
	pos := map[*axisCommit]int{}
	var known, unknown []*axisCommit
	idx := &commitIndex{order: order}
	for _, c := range all {
		if i, ok := idx.lookup(c.Commit); ok {
			c.Known, pos[c] = true, i
			known = append(known, c)
		} else {
			unknown = append(unknown, c)
		}
	}
	slices.SortFunc(known, func(a, b *axisCommit) int { return cmp.Compare(pos[a], pos[b]) })
	slices.SortFunc(unknown, byTime)
	merged := make([]*axisCommit, 0, len(all))
	for len(known) > 0 || len(unknown) > 0 {
		if len(unknown) == 0 || (len(known) > 0 && byTime(known[0], unknown[0]) <= 0) {
			merged, known = append(merged, known[0]), known[1:]
		} else {
			merged, unknown = append(merged, unknown[0]), unknown[1:]
		}
	}
	for i, c := range merged {
		slices.Sort(c.Runs)
		ax.Commits = append(ax.Commits, *c)
		ax.index[c.Commit] = i
	}
	return ax
}

// commitIndex finds commits in an order, as full hashes or as the unique
// prefix (at least 7 characters) of one.
type commitIndex struct {
	order  map[string]int
	sorted []string // the order's hashes, sorted, built at the first prefix lookup
}

func (ci *commitIndex) lookup(commit string) (int, bool) {
	if ci.order == nil || commit == "" {
		return 0, false
	}
	if i, ok := ci.order[commit]; ok {
		return i, true
	}
	if len(commit) < 7 {
		return 0, false
	}
	if ci.sorted == nil {
		ci.sorted = make([]string, 0, len(ci.order))
		for h := range ci.order {
			ci.sorted = append(ci.sorted, h)
		}
		slices.Sort(ci.sorted)
	}
	j, _ := slices.BinarySearch(ci.sorted, commit)
	if j >= len(ci.sorted) || !strings.HasPrefix(ci.sorted[j], commit) ||
		(j+1 < len(ci.sorted) && strings.HasPrefix(ci.sorted[j+1], commit)) {
		return 0, false
	}
	return ci.order[ci.sorted[j]], true
}
