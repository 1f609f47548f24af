package daemon

import (
	"context"
	"encoding/binary"
	"math/bits"
	"time"
	"unsafe"

	"github.com/ringwire/ringwire/protocol"
)

// Mock provider defaults.
const (
	// DefaultMockMaxTokens is the reply length, in tokens, of the mock
	// provider when the request sets no max_tokens.
	DefaultMockMaxTokens = 64
	// MockModel is the model name the mock provider reports.
	MockModel = "mock-1"
)

// MockProvider is a deterministic completion provider for tests and
// demos: it needs no network. Its reply to a request is "mock:" followed by
// the words of the last message, each word a token (with its leading
// space), cut at max_tokens (DefaultMockMaxTokens when unset), with finish
// reason "length" if it was cut and "stop" otherwise. The zero value
// replies with no pacing.
type MockProvider struct {
	// TokenDelay is the pause before each token after the first, to pace
	// the stream like a real model. Default 0: no pause.
	TokenDelay time.Duration
}

// Name returns "mock".
func (m *MockProvider) Name() string { return "mock" }

// Complete streams the mock reply; see MockProvider.
func (m *MockProvider) Complete(ctx context.Context, req *protocol.CompletionRequest, emit func(string) error) (Completion, error) {
	prompt := ""
	if n := len(req.Messages); n > 0 {
		prompt = req.Messages[n-1].Content
	}
	return m.walk(ctx, unsafe.Slice(unsafe.StringData(prompt), len(prompt)), int(req.MaxTokens), func(word []byte) error {
		if word == nil {
			return emit("mock:")
		}
		return emit(" " + string(word))
	})
}

// walk produces the mock reply to prompt (read, never written) token by
// token, calling tok for each: nil for the first token, "mock:", which is
// never cut nor paced; then each whitespace-separated word, to be sent with
// a leading space, after a pause of TokenDelay, until limit tokens
// (DefaultMockMaxTokens when 0) are out. It stops at tok's first error,
// or ctx's while pausing.
func (m *MockProvider) walk(ctx context.Context, prompt []byte, limit int, tok func(word []byte) error) (Completion, error) {
	if limit == 0 {
		limit = DefaultMockMaxTokens
	}
	res := Completion{FinishReason: protocol.FinishStop, Model: MockModel}
	res.Usage.PromptTokens = uint32(countWords(unsafe.String(unsafe.SliceData(prompt), len(prompt))))
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	emitted := 1
	err := tok(nil)
	for i := 0; err == nil; {
		for i < len(prompt) && spaceTab[prompt[i]] != 0 {
			i++
		}
		if i == len(prompt) {
			break
		}
		j := i
		for j < len(prompt) && spaceTab[prompt[j]] == 0 {
			j++
		}
		if emitted == limit {
			res.FinishReason = protocol.FinishLength
			break
		}
		if m.TokenDelay > 0 {
			if timer == nil {
				timer = time.NewTimer(m.TokenDelay)
			} else {
				timer.Reset(m.TokenDelay)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
				err = ctx.Err()
				continue
			}
		}
		emitted++
		err = tok(prompt[i:j])
		i = j
	}
	res.Usage.CompletionTokens = uint32(emitted)
	return res, err
}

// countWords counts the whitespace-separated words of s (space, tab, CR,
// LF) without allocating: a word starts at a non-space byte after a space
// or at the start. It looks at 16 bytes at a time, as two 8-byte words
// (the mock provider counts every prompt: it is most of its work).
func countWords(s string) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	n := 0
	prev := uint64(0x80) // "the byte before" is a space: a word may start at 0
	i := 0
	base := unsafe.Pointer(unsafe.StringData(s))
	// load reads the 8 bytes at i (i+8 <= len(s), checked by the loops).
	load := func(i int) uint64 { return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(base, i))[:]) }
	for ; i+16 <= len(s); i += 16 {
		x, y := load(i), load(i+8)
		spx, spy := spaceBytes(x), spaceBytes(y)
		// Bytes below 0x20 (high bit clear) need the exact test; text
		// without them, the common case, skips it.
		xh, yh := x|hi, y|hi
		if ctl := ^(xh-0x20*lo)&^x&hi | (^(yh-0x20*lo)&^y&hi)>>1; ctl != 0 {
			if ctl&hi != 0 {
				spx = exactSpaces(x)
			}
			if ctl&(hi>>1) != 0 {
				spy = exactSpaces(y)
			}
		}
		// The word starts of x sit at bits 7, 15, ..., those of y one
		// bit lower after the shift: one popcount for both.
		sx := ^spx & hi & (spx<<8 | prev)
		sy := ^spy & hi & (spy<<8 | spx>>56)
		n += bits.OnesCount64(sx | sy>>1)
		prev = spy >> 56
	}
	for ; i+8 <= len(s); i += 8 {
		x := load(i)
		sp := spaceBytes(x)
		if ^(x|hi-0x20*lo)&^x&hi != 0 {
			sp = exactSpaces(x)
		}
		n += bits.OnesCount64(^sp & hi & (sp<<8 | prev))
		prev = sp >> 56
	}
	p := uint8(prev >> 7)
	for ; i < len(s); i++ {
		sp := spaceTab[s[i]]
		n += int(p &^ sp)
		p = sp
	}
	return n
}

// spaceBytes has the high bit of each byte of x below 0x21 set: with no
// byte below 0x20 among them, exactly the spaces.
func spaceBytes(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	return ^(x | hi - 0x21*lo) &^ x & hi
}

// exactSpaces has the high bit of each byte of x that is a space, tab, CR
// or LF set.
func exactSpaces(x uint64) uint64 {
	const lo = 0x0101010101010101
	return zeroBytes(x^(' '*lo)) | zeroBytes(x^('\t'*lo)) | zeroBytes(x^('\r'*lo)) | zeroBytes(x^('\n'*lo))
}

// zeroBytes has the high bit of each byte of x that is zero set, and no
// other bit.
func zeroBytes(x uint64) uint64 {
	const lo7 = 0x7f7f7f7f7f7f7f7f
	return ^((x&lo7 + lo7) | x | lo7)
}

var spaceTab = [256]uint8{' ': 1, '\t': 1, '\r': 1, '\n': 1}

// AppendComplete appends the mock reply to req to dst; see MockProvider.
// Its reply is byte for byte the concatenation of what Complete emits.
func (m *MockProvider) AppendComplete(ctx context.Context, dst []byte, req protocol.CompletionRequestView) ([]byte, Completion, error) {
	var prompt []byte
	if n := req.MessagesLen(); n > 0 {
		prompt = req.Message(n - 1).Content()
	}
	res, err := m.walk(ctx, prompt, int(req.MaxTokens()), func(word []byte) error {
		if word == nil {
			dst = append(dst, "mock:"...)
		} else {
			dst = append(dst, ' ')
			dst = append(dst, word...)
		}
		return nil
	})
	return dst, res, err
}
