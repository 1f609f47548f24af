package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// BenchmarkFrame: AppendFrame then ParseFrame of one frame, CRC both ways.
func BenchmarkFrame(b *testing.B) {
	for _, size := range benchSizes {
		b.Run("size="+size.name, func(b *testing.B) {
			payload := bytes.Repeat([]byte{0x5A}, size.n)
			buf := make([]byte, 0, HeaderSize+size.n)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			cpu := cpuPerOp(b)
			for b.Loop() {
				buf = AppendFrame(buf[:0], MsgToolResult, FlagResponse, 42, payload)
				f, _, err := ParseFrame(buf)
				if err != nil || len(f.Payload) != size.n {
					b.Fatal(err)
				}
			}
			cpu()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// BenchmarkReaderWriter: one frame through a Writer and a Reader over an
// in-memory stream, per op.
func BenchmarkReaderWriter(b *testing.B) {
	for _, compress := range []bool{false, true} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("zstd=%v/size=%s", compress, size.name), func(b *testing.B) {
				p := pipeRW(compress)
				// Text-like: compressible when compression is on.
				payload := bytes.Repeat([]byte("ringwire frames "), size.n/16)
				roundTrip := func() {
					if err := p.w.WriteFrame(MsgToolResult, FlagResponse, 1, payload); err != nil {
						b.Fatal(err)
					}
					if _, err := p.r.ReadFrame(); err != nil {
						b.Fatal(err)
					}
				}
				roundTrip() // warm up buffers, pools and the zstd state
				b.SetBytes(int64(size.n))
				b.ReportAllocs()
				cpu := cpuPerOp(b)
				for b.Loop() {
					roundTrip()
				}
				cpu()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
			})
		}
	}
}

// jsonRequest is sampleRequest's data with ordinary JSON tags, as a JSON
// protocol would carry it.
type jsonRequest struct {
	Model        string        `json:"model"`
	Messages     []jsonMessage `json:"messages"`
	Tools        []jsonTool    `json:"tools"`
	Temperature  *float32      `json:"temperature,omitempty"`
	MaxTokens    uint32        `json:"max_tokens,omitempty"`
	SystemPrompt string        `json:"system_prompt,omitempty"`
	Stream       bool          `json:"stream"`
}

type jsonMessage struct {
	Role       string         `json:"role"`
	Content    string         `json:"content"`
	ToolCalls  []jsonToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type jsonToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	TimeoutMS uint32 `json:"timeout_ms,omitempty"`
}

type jsonTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

func sampleJSONRequest() *jsonRequest {
	req := sampleRequest()
	j := &jsonRequest{Model: req.Model, Temperature: req.Temperature, MaxTokens: req.MaxTokens,
		SystemPrompt: req.SystemPrompt, Stream: req.Stream}
	for _, m := range req.Messages {
		jm := jsonMessage{Role: m.Role.String(), Content: m.Content, ToolCallID: m.ToolCallID}
		for _, c := range m.ToolCalls {
			jm.ToolCalls = append(jm.ToolCalls, jsonToolCall(c))
		}
		j.Messages = append(j.Messages, jm)
	}
	for _, t := range req.Tools {
		j.Tools = append(j.Tools, jsonTool{t.Name, t.Description, json.RawMessage(t.Parameters)})
	}
	return j
}

// BenchmarkCompletionRequest encodes and decodes a realistic ~1 KiB
// CompletionRequest with FlatBuffers (encode, decode into Go structs, view
// in place) and with encoding/json (encode, decode), as separate
// sub-benchmarks, and in "vs-json" times the round trips in the same run
// and reports how many times faster FlatBuffers is.
func BenchmarkCompletionRequest(b *testing.B) {
	req := sampleRequest()
	jreq := sampleJSONRequest()
	var enc Encoder
	payload := bytes.Clone(enc.Encode(req))
	jpayload, _ := json.Marshal(jreq)

	fbRoundTrip := func() {
		var out CompletionRequest
		if err := out.Unmarshal(enc.Encode(req)); err != nil {
			b.Fatal(err)
		}
	}
	fbViewRoundTrip := func() {
		if readAllFields(b, enc.Encode(req)) == 0 {
			b.Fatal("empty")
		}
	}
	jsonRoundTrip := func() {
		var out jsonRequest
		p, _ := json.Marshal(jreq)
		if err := json.Unmarshal(p, &out); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("flatbuffers/encode", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		cpu := cpuPerOp(b)
		for b.Loop() {
			enc.Encode(req)
		}
		cpu()
	})
	b.Run("flatbuffers/decode", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		cpu := cpuPerOp(b)
		for b.Loop() {
			var out CompletionRequest
			if err := out.Unmarshal(payload); err != nil {
				b.Fatal(err)
			}
		}
		cpu()
	})
	b.Run("flatbuffers/view", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		b.ReportAllocs()
		cpu := cpuPerOp(b)
		for b.Loop() {
			readAllFields(b, payload)
		}
		cpu()
	})
	b.Run("json/encode", func(b *testing.B) {
		b.SetBytes(int64(len(jpayload)))
		b.ReportAllocs()
		cpu := cpuPerOp(b)
		for b.Loop() {
			if _, err := json.Marshal(jreq); err != nil {
				b.Fatal(err)
			}
		}
		cpu()
	})
	b.Run("json/decode", func(b *testing.B) {
		b.SetBytes(int64(len(jpayload)))
		b.ReportAllocs()
		cpu := cpuPerOp(b)
		for b.Loop() {
			var out jsonRequest
			if err := json.Unmarshal(jpayload, &out); err != nil {
				b.Fatal(err)
			}
		}
		cpu()
	})
	// Encode + decode timed in the same run. FlatBuffers' decode is the
	// zero-copy view (verify, then read every field in place): the hot
	// path, timed by the benchmark itself. The ratios come from
	// interleaved rounds of the three round trips, so that load on the
	// machine hits them alike: x-faster-than-json for encode+view,
	// x-faster-than-json-struct for encode+Unmarshal into Go structs (what
	// encoding/json produces too).
	b.Run("vs-json", func(b *testing.B) {
		b.ReportAllocs()
		cpu := cpuPerOp(b)
		for b.Loop() {
			fbViewRoundTrip()
		}
		cpu()
		var fb, view, js time.Duration
		for range 20 {
			view += timeRounds(fbViewRoundTrip)
			fb += timeRounds(fbRoundTrip)
			js += timeRounds(jsonRoundTrip)
		}
		b.ReportMetric(float64(js)/float64(view), "x-faster-than-json")
		b.ReportMetric(float64(js)/float64(fb), "x-faster-than-json-struct")
		b.ReportMetric(float64(js.Nanoseconds())/(20*rounds), "json-ns/roundtrip")
		b.ReportMetric(float64(view.Nanoseconds())/(20*rounds), "view-ns/roundtrip")
		b.ReportMetric(float64(fb.Nanoseconds())/(20*rounds), "struct-ns/roundtrip")
	})
}

const rounds = 200

// timeRounds times rounds calls of f.
func timeRounds(f func()) time.Duration {
	start := time.Now()
	for range rounds {
		f()
	}
	return time.Since(start)
}

// readAllFields reads every field of a CompletionRequest payload through
// the view and returns the bytes seen.
func readAllFields(b testing.TB, p []byte) int {
	v, err := ViewCompletionRequest(p)
	if err != nil {
		b.Fatal(err)
	}
	n := len(v.Model()) + len(v.SystemPrompt()) + int(v.MaxTokens())
	if t, ok := v.Temperature(); ok && t > 0 && v.Stream() {
		n++
	}
	for i := range v.MessagesLen() {
		m := v.Message(i)
		n += len(m.Content()) + len(m.ToolCallID()) + int(m.Role())
		for j := range m.ToolCallsLen() {
			c := m.ToolCall(j)
			n += len(c.ID()) + len(c.Name()) + len(c.Arguments()) + int(c.TimeoutMS())
		}
	}
	for i := range v.ToolsLen() {
		t := v.Tool(i)
		n += len(t.Name()) + len(t.Description()) + len(t.Parameters())
	}
	return n
}
