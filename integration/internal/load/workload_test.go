package load

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

func TestWorkspace(t *testing.T) {
	ws := t.TempDir()
	files, err := PrepareWorkspace(ws)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != ToolFileCount || files[0].Size != MinToolFile || files[len(files)-1].Size != MaxToolFile {
		t.Fatalf("files %+v", files)
	}
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join(ws, f.Path))
		if err != nil || len(b) != f.Size || b[len(b)-1] != '\n' {
			t.Fatalf("%s: %d bytes, %v; want %d", f.Path, len(b), err, f.Size)
		}
		if i > 0 && f.Size <= files[i-1].Size {
			t.Errorf("sizes not increasing: %d then %d", files[i-1].Size, f.Size)
		}
	}
	if err := RemoveWorkspace(ws); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws, WorkspaceDir)); !os.IsNotExist(err) {
		t.Errorf("after RemoveWorkspace: %v", err)
	}
}

func TestWorkloads(t *testing.T) {
	files, err := PrepareWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Scenarios(DefaultErrorShare) {
		w, err := NewWorkload(s, files, 1)
		if err != nil {
			t.Fatal(err)
		}
		count := map[OpKind]int{}
		fails := 0
		for i := range w.Ops {
			op := &w.Ops[i]
			if op.WantError {
				fails++
				if op.Kind != OpTool || op.Tool.Name != "read_file" {
					t.Fatalf("%s: failing op %+v", s.Name, op)
				}
				continue
			}
			count[op.Kind]++
			switch op.Kind {
			case OpComplete:
				if !op.Complete.Stream || op.Complete.MaxTokens != CompletionTokens || len(op.Complete.Messages) < 2 {
					t.Fatalf("%s: completion %+v", s.Name, op.Complete)
				}
				if op.Size < MinCompletion || op.Size > MaxCompletion+512 {
					t.Errorf("%s: completion request of %d bytes", s.Name, op.Size)
				}
				last := op.Complete.Messages[len(op.Complete.Messages)-1]
				if last.Role != protocol.RoleUser || countWords(last.Content) <= CompletionTokens {
					t.Errorf("%s: last message %v with %d words", s.Name, last.Role, countWords(last.Content))
				}
			case OpTool:
				if op.WantBytes < MinToolFile || op.WantBytes > MaxToolFile {
					t.Errorf("%s: tool wants %d bytes", s.Name, op.WantBytes)
				}
			}
		}
		total := s.Ping + s.Complete + s.Tool
		wantFails := int(s.ErrorShare * workloadLen)
		if fails != wantFails {
			t.Errorf("%s: %d failing requests, want %d", s.Name, fails, wantFails)
		}
		for kind, weight := range map[OpKind]int{OpPing: s.Ping, OpComplete: s.Complete, OpTool: s.Tool} {
			// Failures replace requests of every kind: allow their share.
			want := weight * workloadLen / total
			if got := count[kind]; got > want || got < want-wantFails {
				t.Errorf("%s: %d %v requests, want %d (less up to %d replaced by failures)", s.Name, got, kind, want, wantFails)
			}
		}
	}
	if _, err := NewWorkload(Scenarios(0)[2], nil, 1); err == nil {
		t.Error("tool workload without files")
	}
	if _, err := NewWorkload(Scenario{Name: "empty"}, nil, 1); err == nil {
		t.Error("empty workload")
	}
	if _, err := NewWorkload(Scenario{Name: "bad", Ping: 1, ErrorShare: 2}, files, 1); err == nil {
		t.Error("error share 2")
	}
	if _, err := LookupScenario("nope", 0); err == nil {
		t.Error("LookupScenario(nope)")
	}
}

func countWords(s string) int {
	n, in := 0, false
	for _, c := range s {
		sp := c == ' ' || c == '\n' || c == '\t'
		if !sp && !in {
			n++
		}
		in = !sp
	}
	return n
}

func TestExpected(t *testing.T) {
	ok, fail := &Op{Kind: OpPing}, &Op{Kind: OpTool, WantError: true}
	handler := CheckTool(fail, 10, true, "no such file")
	for _, c := range []struct {
		op   *Op
		err  error
		want bool
	}{
		{ok, nil, true},
		{ok, handler, false},
		{ok, context.Canceled, false},
		{fail, handler, true},
		{fail, nil, false},
		{fail, ErrWrongAnswer, false},
	} {
		if got := Expected(c.op, c.err); got != c.want {
			t.Errorf("Expected(%+v, %v) = %v", c.op, c.err, got)
		}
	}
	op := &Op{Kind: OpTool, Tool: &protocol.ToolCall{Name: "read_file"}, WantBytes: 100}
	if err := CheckTool(op, 100, false, ""); err != nil {
		t.Error(err)
	}
	if err := CheckTool(op, 99, false, ""); !errors.Is(err, ErrWrongAnswer) {
		t.Errorf("short read: %v", err)
	}
}

func TestCellNames(t *testing.T) {
	c := Cell{Scenario: Scenario{Name: "bursty"}, Transport: "socket", Rate: 100000}
	if got := c.Name(); got != "Load/scenario=bursty/transport=socket/rate=100000" {
		t.Errorf("Name = %q", got)
	}
	c.Rate = 0
	if got := c.Name(); got != "Load/scenario=bursty/transport=socket/rate=max" {
		t.Errorf("Name = %q", got)
	}
}

// fakeTarget answers every op at once, failing the ops that want it.
type fakeTarget struct{ closed bool }

func (f *fakeTarget) Do(_ context.Context, _ int, op *Op) error {
	if op.WantError {
		return CheckTool(op, 0, true, "missing")
	}
	if op.Kind == OpTool {
		return CheckTool(op, op.WantBytes, false, "")
	}
	return nil
}

func (f *fakeTarget) Close() error { f.closed = true; return nil }

// TestMeasure: a cell against a fake target counts every request, the
// failures the workload holds, no unexpected outcome, and reads this
// process as the server.
func TestMeasure(t *testing.T) {
	files, err := PrepareWorkspace(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := LookupScenario("errors", 0.5)
	w, err := NewWorkload(s, files, 7)
	if err != nil {
		t.Fatal(err)
	}
	c := Cell{Scenario: s, Transport: "fake", Rate: 2000, Conns: 2, Workers: 4, Duration: 200 * time.Millisecond, Warmup: 20 * time.Millisecond}
	r := Measure(context.Background(), c, w, &fakeTarget{}, os.Getpid(), nil)
	if r.Sample.Completed != 400 || r.Unexpected != 0 {
		t.Fatalf("completed %d, unexpected %d (%v)", r.Sample.Completed, r.Unexpected, r.FirstUnexpected)
	}
	if share := float64(r.Sample.Errors) / 400; share < 0.4 || share > 0.6 {
		t.Errorf("error share %.2f, want about 0.5", share)
	}
	if r.ClientCPU < 0 || r.ServerCPU < 0 || r.MemoryErr != nil {
		t.Errorf("cpu %v/%v, memory %v", r.ClientCPU, r.ServerCPU, r.MemoryErr)
	}
	// A target that gets everything wrong is reported.
	r = Measure(context.Background(), c, w, wrongTarget{}, 0, nil)
	if r.Unexpected != r.Sample.Completed || r.FirstUnexpected == nil || r.MemoryErr == nil || r.ServerCPU != -1 {
		t.Errorf("wrong target: unexpected %d of %d (%v), memory %v, server cpu %v", r.Unexpected, r.Sample.Completed, r.FirstUnexpected, r.MemoryErr, r.ServerCPU)
	}
}

type wrongTarget struct{}

func (wrongTarget) Do(_ context.Context, _ int, op *Op) error {
	if op.WantError {
		return nil
	}
	return ErrWrongAnswer
}
func (wrongTarget) Close() error { return nil }
