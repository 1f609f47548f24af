package load

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/ringwire/ringwire/protocol"
)

// OpKind is what one request of a workload does.
type OpKind uint8

// The kinds of request.
const (
	OpPing     OpKind = iota // a Heartbeat round trip
	OpComplete               // a streamed completion
	OpTool                   // a ToolCall answered by a ToolResult
)

func (k OpKind) String() string {
	switch k {
	case OpPing:
		return "ping"
	case OpComplete:
		return "completion"
	case OpTool:
		return "tool"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one request of a workload, built once and sent many times; every
// transport sends the same Ops.
type Op struct {
	Kind OpKind
	// Complete is the request of an OpComplete, with Stream set: chat
	// history of 1–8 KiB (encoded), answered by the mock provider with
	// one StreamChunk per word of the last message, up to MaxTokens.
	Complete *protocol.CompletionRequest
	// Tool is the call of an OpTool: read_file of a workspace file.
	Tool *protocol.ToolCall
	// WantBytes is the content length a successful OpTool returns.
	WantBytes int
	// WantError marks a request that fails in the daemon's handler by
	// design (read_file of a file that does not exist).
	WantError bool
	// Size is the request's payload, encoded as ringwire sends it.
	Size int
}

// Errors of a request, as a Target reports them.
var (
	// ErrHandler: the daemon's handler failed the request (a ToolResult
	// with IsError, an Error frame).
	ErrHandler = errors.New("load: the handler failed the request")
	// ErrWrongAnswer: the answer is not what the request must get
	// (wrong size, a stream without its final chunk).
	ErrWrongAnswer = errors.New("load: wrong answer")
)

// Expected reports whether err is the outcome op must have: nil for an
// ordinary request, a handler failure (ErrHandler) for one with
// WantError. Anything else (a transport error, a wrong answer, a
// request meant to fail that did not) is unexpected.
func Expected(op *Op, err error) bool {
	if op.WantError {
		return errors.Is(err, ErrHandler)
	}
	return err == nil
}

// CheckTool checks a tool's answer against op: the content length of a
// successful read_file, IsError for a failing one. A failure is
// ErrHandler whether op wanted it or not (Expected tells).
func CheckTool(op *Op, contentLen int, isError bool, content string) error {
	if isError {
		return fmt.Errorf("%w: %s", ErrHandler, abbrev(content, 80))
	}
	if contentLen != op.WantBytes {
		return fmt.Errorf("%w: %s returned %d bytes, want %d", ErrWrongAnswer, op.Tool.Name, contentLen, op.WantBytes)
	}
	return nil
}

func abbrev(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Scenario is a named request mix.
type Scenario struct {
	Name string
	// Weights of each kind of request (ping, completion, tool).
	Ping, Complete, Tool int
	// ErrorShare is the share of requests replaced by ones that fail in
	// the handler.
	ErrorShare float64
	// Bursty runs the cell's schedule in on/off bursts.
	Bursty bool
}

// Mixed weights: what an editor sends most is completions, then tool
// calls (file reads), then the odd health check.
const (
	MixedPing     = 20
	MixedComplete = 50
	MixedTool     = 30
)

// DefaultErrorShare is the share of failing requests of the errors
// scenario.
const DefaultErrorShare = 0.10

// Scenarios returns the scenarios by name, in report order: ping,
// completion, tool, mixed, bursty (mixed, in bursts), errors (mixed with
// errorShare of the requests failing in the handler).
func Scenarios(errorShare float64) []Scenario {
	return []Scenario{
		{Name: "ping", Ping: 1},
		{Name: "completion", Complete: 1},
		{Name: "tool", Tool: 1},
		{Name: "mixed", Ping: MixedPing, Complete: MixedComplete, Tool: MixedTool},
		{Name: "bursty", Ping: MixedPing, Complete: MixedComplete, Tool: MixedTool, Bursty: true},
		{Name: "errors", Ping: MixedPing, Complete: MixedComplete, Tool: MixedTool, ErrorShare: errorShare},
	}
}

// LookupScenario returns the scenario called name.
func LookupScenario(name string, errorShare float64) (Scenario, error) {
	var names []string
	for _, s := range Scenarios(errorShare) {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("load: unknown scenario %q (scenarios: %s)", name, strings.Join(names, ", "))
}

// NeedsWorkspace reports whether s calls tools.
func (s Scenario) NeedsWorkspace() bool { return s.Tool > 0 || s.ErrorShare > 0 }

// WorkspaceDir is the directory, under the daemon's workspace, that holds
// the files the tool requests read.
const WorkspaceDir = ".ringwire-load"

// ToolFile is a file the tool requests read.
type ToolFile struct {
	Path string // relative to the workspace
	Size int
}

// ToolFileCount is how many files PrepareWorkspace writes: their sizes
// are spread evenly on a log scale from MinToolFile to MaxToolFile.
const (
	ToolFileCount = 16
	MinToolFile   = 1 << 10
	MaxToolFile   = 64 << 10
)

// PrepareWorkspace writes the tool requests' files under
// workspace/WorkspaceDir (Go-like source text, 1–64 KiB) and returns
// them. RemoveWorkspace deletes them.
func PrepareWorkspace(workspace string) ([]ToolFile, error) {
	dir := filepath.Join(workspace, WorkspaceDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("load: workspace: %w", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	files := make([]ToolFile, ToolFileCount)
	for i := range files {
		size := int(math.Round(MinToolFile * math.Pow(MaxToolFile/MinToolFile, float64(i)/(ToolFileCount-1))))
		name := fmt.Sprintf("f%02d.go", i)
		if err := os.WriteFile(filepath.Join(dir, name), sourceText(rng, size), 0o644); err != nil {
			return nil, fmt.Errorf("load: workspace: %w", err)
		}
		files[i] = ToolFile{Path: WorkspaceDir + "/" + name, Size: size}
	}
	return files, nil
}

// RemoveWorkspace deletes what PrepareWorkspace wrote.
func RemoveWorkspace(workspace string) error {
	return os.RemoveAll(filepath.Join(workspace, WorkspaceDir))
}

var vocabulary = strings.Fields(`func return err nil if else for range := ctx context
	the a of to in is buffer ring session client daemon request response stream chunk frame
	payload len cap append make struct interface type var const package import defer go
	select case chan close read write handler error value index offset size byte string int`)

// sourceText returns n bytes of lines of words, ending in a newline.
func sourceText(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+16)
	col := 0
	for len(b) < n {
		w := vocabulary[rng.IntN(len(vocabulary))]
		if col > 0 {
			b = append(b, ' ')
		}
		b = append(b, w...)
		if col += len(w) + 1; col > 60 {
			b = append(b, '\n')
			col = 0
		}
	}
	b = b[:n]
	b[n-1] = '\n'
	return b
}

// prose returns words separated by spaces, at least n bytes.
func prose(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(vocabulary[rng.IntN(len(vocabulary))])
	}
	return sb.String()
}

// Completion requests: sizes spread evenly from MinCompletion to
// MaxCompletion bytes encoded, a reply of CompletionTokens tokens (one
// stream chunk each).
const (
	completionVariants = 32
	MinCompletion      = 1 << 10
	MaxCompletion      = 8 << 10
	CompletionTokens   = 64
)

// completionRequest builds a streamed request of about size bytes
// encoded: a system prompt, turns of history, and a last user message
// of more than CompletionTokens words.
func completionRequest(rng *rand.Rand, size int) *protocol.CompletionRequest {
	req := &protocol.CompletionRequest{
		Model:        "mock-1",
		SystemPrompt: "You are a coding assistant inside an editor. " + prose(rng, 120),
		MaxTokens:    CompletionTokens,
		Stream:       true,
	}
	last := protocol.ChatMessage{Role: protocol.RoleUser, Content: prose(rng, 8*CompletionTokens)}
	for {
		req.Messages = append(req.Messages[:len(req.Messages):len(req.Messages)], last)
		n := len(protocol.Marshal(req))
		req.Messages = req.Messages[:len(req.Messages)-1]
		if n >= size-64 {
			break
		}
		role := protocol.RoleUser
		if len(req.Messages)%2 == 1 {
			role = protocol.RoleAssistant
		}
		req.Messages = append(req.Messages, protocol.ChatMessage{Role: role, Content: prose(rng, min(size-n, 200+rng.IntN(400)))})
	}
	req.Messages = append(req.Messages, last)
	return req
}

// Workload is the table of requests of a scenario, walked by every
// worker from its own starting point.
type Workload struct {
	Scenario Scenario
	Ops      []Op
}

// workloadLen is the number of Ops of a Workload: the mix holds at the
// scale of a few hundred requests.
const workloadLen = 1000

// NewWorkload builds s's requests (deterministically, from seed); files
// are the tool files (PrepareWorkspace), needed when s calls tools.
func NewWorkload(s Scenario, files []ToolFile, seed uint64) (*Workload, error) {
	total := s.Ping + s.Complete + s.Tool
	if total <= 0 || s.Ping < 0 || s.Complete < 0 || s.Tool < 0 {
		return nil, fmt.Errorf("load: scenario %q has no requests", s.Name)
	}
	if s.ErrorShare < 0 || s.ErrorShare > 1 {
		return nil, fmt.Errorf("load: scenario %q: error share %v is not in [0, 1]", s.Name, s.ErrorShare)
	}
	if s.NeedsWorkspace() && len(files) == 0 {
		return nil, fmt.Errorf("load: scenario %q calls tools: it needs a workspace", s.Name)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var completions []*protocol.CompletionRequest
	if s.Complete > 0 {
		for i := range completionVariants {
			size := MinCompletion + i*(MaxCompletion-MinCompletion)/(completionVariants-1)
			completions = append(completions, completionRequest(rng, size))
		}
	}
	w := &Workload{Scenario: s, Ops: make([]Op, workloadLen)}
	for i := range w.Ops {
		op := &w.Ops[i]
		// Deterministic proportions: request i's kind by its place in
		// the weights, then shuffled below.
		switch k := i * total / workloadLen; {
		case k < s.Ping:
			op.Kind = OpPing
		case k < s.Ping+s.Complete:
			op.Kind = OpComplete
			op.Complete = completions[i%len(completions)]
			op.Size = len(protocol.Marshal(op.Complete))
		default:
			op.Kind = OpTool
			f := files[i%len(files)]
			op.Tool = &protocol.ToolCall{ID: fmt.Sprintf("call-%d", i), Name: "read_file",
				Arguments: fmt.Sprintf(`{"path":%q}`, f.Path)}
			op.WantBytes = f.Size
			op.Size = len(protocol.Marshal(op.Tool))
		}
	}
	rng.Shuffle(len(w.Ops), func(i, j int) { w.Ops[i], w.Ops[j] = w.Ops[j], w.Ops[i] })
	// Failures spread evenly over the table.
	nerr := int(math.Round(s.ErrorShare * workloadLen))
	for i := range nerr {
		op := &w.Ops[i*workloadLen/nerr]
		*op = Op{Kind: OpTool, WantError: true, Tool: &protocol.ToolCall{ID: fmt.Sprintf("fail-%d", i), Name: "read_file",
			Arguments: fmt.Sprintf(`{"path":"%s/missing-%d.go"}`, WorkspaceDir, i)}}
		op.Size = len(protocol.Marshal(op.Tool))
	}
	return w, nil
}

// Next returns the op after position *pos (a worker's own cursor) and
// advances it.
func (w *Workload) Next(pos *int) *Op {
	op := &w.Ops[*pos%len(w.Ops)]
	*pos++
	return op
}

// Start returns worker i's starting position: workers are spread over
// the table so they do not send the same request at the same time.
func (w *Workload) Start(worker int) int { return (worker * 7919) % len(w.Ops) }
