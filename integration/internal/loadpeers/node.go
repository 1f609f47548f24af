package loadpeers

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ringwire/ringwire/integration/internal/load"
	"github.com/ringwire/ringwire/protocol"
)

// The Node.js peer: a server (node/server.js) and a client
// (node/client.js) in two node processes, Node's built-ins only, speaking
// the JSON peer's format. The client runs a whole cell on the same
// open-loop schedule as the Go generator and prints every latency, which
// MeasureNode summarizes with the same code as the other transports.

//go:embed node/server.js node/client.js
var nodeScripts embed.FS

// ErrNoNode is returned when no node executable is found.
var ErrNoNode = errors.New("loadpeers: node (Node.js) is not installed or not in PATH")

// Node is the Node.js peer, its scripts written to a directory.
type Node struct {
	Bin, Dir string // the node executable; the directory of server.js and client.js
}

// NewNode finds node in PATH and writes the scripts into dir.
func NewNode(dir string) (*Node, error) {
	bin, err := exec.LookPath("node")
	if err != nil {
		return nil, ErrNoNode
	}
	for _, name := range []string{"server.js", "client.js"} {
		b, err := nodeScripts.ReadFile("node/" + name)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	return &Node{Bin: bin, Dir: dir}, nil
}

// ServerArgs are the arguments of the server process: node ServerArgs...
func (n *Node) ServerArgs(socket, workspace string, tokenDelay time.Duration) []string {
	return []string{filepath.Join(n.Dir, "server.js"), socket, workspace, strconv.FormatFloat(tokenDelay.Seconds()*1000, 'f', -1, 64)}
}

// nodeOp is an Op as the Node client reads it (one JSON line each).
type nodeOp struct {
	Op        string                      `json:"op"`
	Complete  *protocol.CompletionRequest `json:"complete,omitempty"`
	Tool      *protocol.ToolCall          `json:"tool,omitempty"`
	WantBytes int                         `json:"want_bytes,omitempty"`
	WantError bool                        `json:"want_error,omitempty"`
}

// WriteOps writes w's requests for the Node client to path.
func WriteOps(path string, w *load.Workload) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for i := range w.Ops {
		op := &w.Ops[i]
		no := nodeOp{Complete: op.Complete, Tool: op.Tool, WantBytes: op.WantBytes, WantError: op.WantError}
		switch op.Kind {
		case load.OpPing:
			no.Op = "ping"
		case load.OpComplete:
			no.Op = "complete"
		case load.OpTool:
			no.Op = "tool"
		}
		if err := enc.Encode(&no); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Measure runs cell c with the Node client against the Node server on
// socket (pid server), its requests read from opsFile (WriteOps). The
// client's CPU time is its own process.cpuUsage() over the measured run.
func (n *Node) Measure(ctx context.Context, c load.Cell, socket, opsFile string, server int) (*load.Result, error) {
	res := &load.Result{Cell: c, ClientCPU: -1, ServerCPU: -1}
	burst := load.Burst{}
	if c.Scenario.Bursty {
		burst = c.Burst
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', -1, 64) }
	args := []string{filepath.Join(n.Dir, "client.js"), socket, opsFile, strconv.FormatFloat(c.Rate, 'f', -1, 64),
		ms(c.Duration), ms(c.Warmup), strconv.Itoa(max(c.Conns, 1)), strconv.Itoa(max(c.Workers/max(c.Conns, 1), 1)), ms(burst.On), ms(burst.Off)}
	// The Go generator drops what is left max(d/2, 1 s) after the end;
	// the Node client has no such deadline: a stuck cell is killed.
	ctx, cancel := context.WithTimeout(ctx, c.Warmup+c.Duration+max(c.Duration/2, time.Second)+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.Bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s0, serr := load.ProcCPU(server)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &load.Sample{Latency: load.NewHistogram(), Lag: load.NewHistogram()}
	gotEnd := false
	perr := parseNodeOutput(stdout, s, res, &gotEnd)
	io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	s1, serr1 := load.ProcCPU(server)
	switch {
	case werr != nil:
		return nil, fmt.Errorf("loadpeers: node client: %v: %s", werr, abbrevLog(stderr.String()))
	case perr != nil:
		return nil, perr
	case !gotEnd:
		return nil, fmt.Errorf("loadpeers: node client ended without its summary: %s", abbrevLog(stderr.String()))
	}
	res.Sample = s
	if serr == nil && serr1 == nil {
		res.ServerCPU = s1.Sub(s0)
	}
	res.Memory, res.MemoryErr = load.ProcMemory(server)
	return res, nil
}

// parseNodeOutput reads the Node client's lines into s and res.
func parseNodeOutput(r io.Reader, s *load.Sample, res *load.Result, gotEnd *bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		kind, rest, _ := strings.Cut(line, " ")
		f := strings.Fields(rest)
		nums := make([]int64, len(f))
		for i, x := range f {
			v, err := strconv.ParseInt(x, 10, 64)
			if err != nil && kind != "E" {
				return fmt.Errorf("loadpeers: node client line %q: %v", abbrev(line, 80), err)
			}
			nums[i] = v
		}
		switch {
		case kind == "L" && len(nums) == 4:
			load.Record(s.Latency, time.Duration(nums[0]))
			load.Record(s.Lag, time.Duration(nums[1]))
			s.Completed++
			s.Errors += nums[2]
			res.Unexpected += nums[3]
		case kind == "E":
			res.FirstUnexpected = errors.New(rest)
		case kind == "R" && len(nums) == 3:
			s.Due, s.Elapsed = nums[0], time.Duration(nums[1])
			res.ClientCPU = time.Duration(nums[2]) * time.Microsecond
			*gotEnd = true
		default:
			return fmt.Errorf("loadpeers: node client line %q", abbrev(line, 80))
		}
	}
	return sc.Err()
}

func abbrev(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func abbrevLog(s string) string { return abbrev(strings.TrimSpace(s), 2000) }
