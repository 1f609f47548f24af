package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"
)

type wframe struct {
	typ     MsgType
	flags   Flags
	id      uint64
	payload []byte
}

// testFrames is a mix of sizes around every boundary the Reader and
// Writer have: empty, small, the compression threshold, smallFrame, pooled
// sizes, 1 MiB; compressible and not.
func testFrames() []wframe {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := func(n int) []byte { return bytes.Repeat([]byte("ringwire frames "), n/16+1)[:n] }
	var fs []wframe
	for i, n := range []int{0, 1, 100, DefaultCompressThreshold - 1, DefaultCompressThreshold,
		smallFrame - HeaderSize, smallFrame - HeaderSize + 1, smallFrame, 100 << 10, 1 << 20} {
		fs = append(fs,
			wframe{MsgToolResult, FlagResponse, uint64(2*i + 1), text(n)},
			wframe{MsgAppMin + 1, FlagRequest, uint64(2*i + 2), random(n)},
		)
	}
	return fs
}

func writeAll(t testing.TB, w *Writer, fs []wframe) {
	t.Helper()
	for _, f := range fs {
		if err := w.WriteFrame(f.typ, f.flags, f.id, f.payload); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t testing.TB, r *Reader, fs []wframe) {
	t.Helper()
	for i, want := range fs {
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if f.Type != want.typ || f.Flags != want.flags || f.ID != want.id || !bytes.Equal(f.Payload, want.payload) {
			t.Fatalf("frame %d: got %v, want type %v flags %v id %d len %d", i, f, want.typ, want.flags, want.id, len(want.payload))
		}
	}
	if f, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after the last frame: %v, %v", f, err)
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("EOF is not sticky: %v", err)
	}
}

func TestReaderWriterRoundTrip(t *testing.T) {
	fs := testFrames()
	for _, compress := range []bool{false, true} {
		var wire bytes.Buffer
		var wopts, ropts []Option
		if compress {
			wopts = append(wopts, WithCompression(0))
			ropts = append(ropts, WithCompression(0))
		}
		writeAll(t, NewWriter(&wire, wopts...), fs)
		// What went over the wire: compressible payloads at or above the
		// threshold compressed, nothing else.
		b := wire.Bytes()
		for i, want := range fs {
			f, n, err := ParseFrame(b)
			if err != nil {
				t.Fatal(err)
			}
			b = b[n:]
			text := want.typ == MsgToolResult
			shouldCompress := compress && text && len(want.payload) >= DefaultCompressThreshold
			if f.Flags.Has(FlagCompressed) != shouldCompress {
				t.Errorf("compress=%v frame %d (%d bytes, text=%v): flags %v", compress, i, len(want.payload), text, f.Flags)
			}
		}
		for name, rd := range map[string]func(io.Reader) io.Reader{
			"plain":    func(r io.Reader) io.Reader { return r },
			"one byte": iotest.OneByteReader,
			"half":     iotest.HalfReader,
			"data+EOF": iotest.DataErrReader,
		} {
			t.Run(name, func(t *testing.T) {
				readAll(t, NewReader(rd(bytes.NewReader(wire.Bytes())), ropts...), fs)
			})
		}
	}
}

func TestReaderShortAndBadStreams(t *testing.T) {
	frame := AppendFrame(nil, MsgHeartbeat, FlagRequest, 1, []byte("abc"))
	for n := 1; n < len(frame); n++ {
		r := NewReader(bytes.NewReader(frame[:n]))
		if _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
			t.Fatalf("cut at %d: %v", n, err)
		}
		if _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
			t.Fatalf("cut at %d: error not sticky: %v", n, err)
		}
	}
	garbage := append(bytes.Clone(frame), "GARBAGE GARBAGE GARBAGE GARBAGE"...)
	r := NewReader(bytes.NewReader(garbage))
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadFrame(); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := r.ReadFrame(); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("framing error not sticky: %v", err)
	}
	boom := errors.New("boom")
	r = NewReader(iotest.ErrReader(boom))
	if _, err := r.ReadFrame(); err != boom {
		t.Fatalf("reader error: %v", err)
	}
	r = NewReader(zeroReader{})
	if _, err := r.ReadFrame(); err != io.ErrNoProgress {
		t.Fatalf("reader making no progress: %v", err)
	}
}

// TestReaderErrorWithData: an error returned together with data comes
// after the frames in that data, even if the reader never repeats it.
func TestReaderErrorWithData(t *testing.T) {
	boom := errors.New("boom")
	frame := AppendFrame(nil, MsgHeartbeat, FlagRequest, 1, []byte("abc"))
	r := NewReader(&onceErrReader{data: frame, err: boom})
	if f, err := r.ReadFrame(); err != nil || f.ID != 1 {
		t.Fatalf("frame before the error: %v %v", f, err)
	}
	if _, err := r.ReadFrame(); err != boom {
		t.Fatalf("error after the data: %v", err)
	}
}

// onceErrReader returns its data and err in one call, then 0, nil.
type onceErrReader struct {
	data []byte
	err  error
}

func (o *onceErrReader) Read(p []byte) (int, error) {
	n := copy(p, o.data)
	o.data = o.data[n:]
	err := o.err
	o.err = nil
	return n, err
}

// zeroReader returns 0, nil forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// TestReaderHugeLengthAllocatesNothing: a header claiming more than the
// maximum is rejected before anything is allocated for it, and a header
// claiming the maximum costs at most the maximum.
func TestReaderHugeLengthAllocatesNothing(t *testing.T) {
	h := AppendFrame(nil, MsgToolResult, FlagResponse, 1, nil)
	binary.LittleEndian.PutUint32(h[offLength:], 0xFFFFFFFF)
	allocated := bytesAllocated(func() {
		r := NewReader(bytes.NewReader(h))
		if _, err := r.ReadFrame(); !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	})
	if allocated > 16<<10 {
		t.Errorf("a 4 GiB claim allocated %d bytes", allocated)
	}
	binary.LittleEndian.PutUint32(h[offLength:], 1<<20)
	allocated = bytesAllocated(func() {
		r := NewReader(bytes.NewReader(h), WithMaxPayload(64<<10))
		if _, err := r.ReadFrame(); !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	})
	if allocated > 16<<10 {
		t.Errorf("a 1 MiB claim over a 64 KiB max allocated %d bytes", allocated)
	}
	binary.LittleEndian.PutUint32(h[offLength:], DefaultMaxPayload)
	allocated = bytesAllocated(func() {
		r := NewReader(bytes.NewReader(h))
		if _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
			t.Fatal(err)
		}
	})
	if allocated > HeaderSize+DefaultMaxPayload+64<<10 {
		t.Errorf("a claim of the maximum allocated %d bytes", allocated)
	}
}

func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func compressedFrame(t testing.TB, id uint64, z []byte) []byte {
	t.Helper()
	return AppendFrame(nil, MsgToolResult, FlagResponse|FlagCompressed, id, z)
}

func TestReaderCompressionErrors(t *testing.T) {
	good := compressedFrame(t, 1, compress(nil, bytes.Repeat([]byte("a"), 10000)))
	next := AppendFrame(nil, MsgToolResult, FlagResponse, 2, []byte("next"))

	// Not negotiated: an error for that frame, then the stream goes on.
	r := NewReader(bytes.NewReader(append(bytes.Clone(good), next...)))
	if f, err := r.ReadFrame(); !errors.Is(err, ErrProtocol) || f.ID != 1 || f.Type != MsgToolResult || f.Payload != nil {
		t.Fatalf("compressed frame before EnableCompression: %v, %v", f, err)
	}
	if f, err := r.ReadFrame(); err != nil || string(f.Payload) != "next" {
		t.Fatalf("frame after a refused compressed one: %v %v", f, err)
	}

	// A zip bomb: 11 MiB of zeros in a few hundred bytes.
	bomb := compress(nil, make([]byte, DefaultMaxPayload+1<<20))
	t.Logf("bomb: %d bytes", len(bomb))
	var streamed bytes.Buffer // a zstd stream: no content size in its header
	zw, _ := zstd.NewWriter(&streamed)
	zw.Write([]byte("hello hello hello"))
	zw.Close()
	lying := compress(nil, bytes.Repeat([]byte("b"), 100))
	lying[5]-- // single-segment frame: byte 5 is the 1-byte content size
	dict := compress(nil, bytes.Repeat([]byte("c"), 100))
	dict = append(dict[:5:5], append([]byte{7}, dict[5:]...)...)
	dict[4] |= 1 // FHD: a 1-byte dictionary id follows
	tests := []struct {
		name string
		z    []byte
		max  int
		want error
	}{
		{"bomb", bomb, 0, ErrTooLarge},
		{"over a lower max", compress(nil, make([]byte, 70<<10)), 64 << 10, ErrTooLarge},
		{"not zstd", []byte("definitely not zstd data"), 0, ErrMalformed},
		{"empty", nil, 0, ErrMalformed},
		{"no content size", streamed.Bytes(), 0, ErrMalformed},
		{"skippable frame", []byte{0x50, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 'h', 'i'}, 0, ErrMalformed},
		{"content size lies", lying, 0, ErrMalformed},
		{"dictionary", dict, 0, ErrMalformed},
		{"truncated", good[HeaderSize : len(good)-5], 0, ErrMalformed},
	}
	for _, tt := range tests {
		var err error
		allocated := bytesAllocated(func() {
			r := NewReader(bytes.NewReader(append(compressedFrame(t, 1, tt.z), next...)),
				WithCompression(0), WithMaxPayload(tt.max))
			var f Frame
			f, err = r.ReadFrame()
			if f.ID != 1 || f.Type != MsgToolResult || !f.Flags.Has(FlagCompressed) || f.Payload != nil {
				t.Errorf("%s: the failed frame's header: %v", tt.name, f)
			}
			if f, err := r.ReadFrame(); err != nil || string(f.Payload) != "next" {
				t.Errorf("%s: frame after: %v %v", tt.name, f, err)
			}
		})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if allocated > 1<<20 {
			t.Errorf("%s: allocated %d bytes", tt.name, allocated)
		}
	}

	// Compressed to exactly the maximum is fine.
	exact := compressedFrame(t, 1, compress(nil, make([]byte, 64<<10)))
	r = NewReader(bytes.NewReader(exact), WithMaxPayload(64<<10))
	r.EnableCompression()
	if f, err := r.ReadFrame(); err != nil || len(f.Payload) != 64<<10 || f.Flags.Has(FlagCompressed) {
		t.Fatalf("payload of exactly the max: %v %v", f, err)
	}
}

func TestWriterCompressionChoices(t *testing.T) {
	var wire bytes.Buffer
	w := NewWriter(&wire)
	text := bytes.Repeat([]byte("x"), 8<<10)
	w.WriteFrame(MsgToolResult, FlagResponse, 1, text) // compression off
	w.EnableCompression(0)
	w.WriteFrame(MsgToolResult, FlagResponse, 2, text[:DefaultCompressThreshold-1])  // below the threshold
	w.WriteFrame(MsgToolResult, FlagResponse, 3, text)                               // compressed
	w.WriteFrame(MsgHandshakeAck, FlagResponse, 4, text)                             // never compressed
	w.WriteFrame(MsgToolResult, FlagResponse|FlagCompressed, 5, compress(nil, text)) // already compressed
	w.EnableCompression(100)
	w.WriteFrame(MsgToolResult, FlagResponse, 6, text[:200]) // a lower threshold
	want := []bool{false, false, true, false, true, true}
	b := bytes.Clone(wire.Bytes())
	r := NewReader(&wire, WithCompression(0))
	for i, c := range want {
		f, n, err := ParseFrame(b)
		if err != nil || f.Flags.Has(FlagCompressed) != c {
			t.Errorf("frame %d: flags %v, err %v; want compressed=%v", i+1, f.Flags, err, c)
		}
		b = b[n:]
		got, err := r.ReadFrame()
		if err != nil || got.Flags.Has(FlagCompressed) || !bytes.Equal(got.Payload, text[:len(got.Payload)]) {
			t.Errorf("frame %d read back: %v %v", i+1, got, err)
		}
	}
}

// recorder records each Write call.
type recorder struct {
	writes [][]byte
	err    error
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func TestWriterWrites(t *testing.T) {
	rec := &recorder{}
	w := NewWriter(rec, WithMaxPayload(1<<20))
	small := make([]byte, smallFrame-HeaderSize)
	big := make([]byte, smallFrame)
	w.WriteFrame(MsgToolResult, FlagResponse, 1, small)
	w.WriteFrame(MsgToolResult, FlagResponse, 2, big)
	if len(rec.writes) != 3 || len(rec.writes[0]) != smallFrame || len(rec.writes[1]) != HeaderSize || len(rec.writes[2]) != len(big) {
		t.Fatalf("writes: %d", len(rec.writes))
	}
	if err := w.WriteFrame(MsgToolResult, FlagResponse, 3, make([]byte, 1<<20+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the max: %v", err)
	}
	w.SetMaxPayload(10)
	if err := w.WriteMessage(FlagRequest, 4, sampleRequest()); !errors.Is(err, ErrTooLarge) || len(rec.writes) != 3 {
		t.Fatalf("over a lowered max: %v", err)
	}
	w.SetMaxPayload(0)
	if err := w.WriteMessage(FlagRequest, 4, sampleRequest()); err != nil {
		t.Fatal(err)
	}
	var req CompletionRequest
	if f, _, err := ParseFrame(rec.writes[3]); err != nil || f.Type != MsgCompletionRequest || req.Unmarshal(f.Payload) != nil {
		t.Fatalf("WriteMessage: %v", err)
	}

	boom := errors.New("boom")
	rec.err = boom
	if err := w.WriteFrame(MsgToolResult, FlagResponse, 5, nil); err != boom {
		t.Fatalf("write error: %v", err)
	}
	rec.err = nil
	if err := w.WriteFrame(MsgToolResult, FlagResponse, 6, nil); err != boom {
		t.Fatalf("write error not sticky: %v", err)
	}
	w = NewWriter(&recorder{err: boom})
	if err := w.WriteFrame(MsgToolResult, FlagResponse, 7, big); err != boom {
		t.Fatalf("write error, big frame: %v", err)
	}
}

func TestReaderMaxAndBuffered(t *testing.T) {
	var wire bytes.Buffer
	w := NewWriter(&wire)
	w.WriteFrame(MsgToolResult, FlagResponse, 1, make([]byte, 100))
	w.WriteFrame(MsgToolResult, FlagResponse, 2, make([]byte, 200))
	r := NewReader(&wire)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if r.Buffered() != HeaderSize+200 {
		t.Errorf("Buffered = %d", r.Buffered())
	}
	r.SetMaxPayload(150)
	if _, err := r.ReadFrame(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("lowered max: %v", err)
	}
}

// TestReaderWriterAllocs: steady-state frames of every size allocate
// nothing, compressed or not.
func TestReaderWriterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	for _, compress := range []bool{false, true} {
		for _, n := range []int{64, 1 << 10, 64 << 10, 1 << 20} {
			p := pipeRW(compress)
			payload := bytes.Repeat([]byte("0123456789abcdef"), n/16)
			step := func() {
				if err := p.w.WriteFrame(MsgToolResult, FlagResponse, 1, payload); err != nil {
					t.Fatal(err)
				}
				if f, err := p.r.ReadFrame(); err != nil || len(f.Payload) != n {
					t.Fatal(err)
				}
			}
			for range 3 {
				step()
			}
			if a := testing.AllocsPerRun(50, step); a != 0 {
				t.Errorf("compress=%v %d bytes: %v allocs per frame", compress, n, a)
			}
		}
	}
}

// loop is an in-memory byte stream: Write appends, Read drains.
type loop struct {
	buf []byte
	r   int
}

func (l *loop) Write(p []byte) (int, error) {
	if l.r == len(l.buf) {
		l.buf, l.r = l.buf[:0], 0
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}

func (l *loop) Read(p []byte) (int, error) {
	if l.r == len(l.buf) {
		return 0, io.EOF
	}
	n := copy(p, l.buf[l.r:])
	l.r += n
	return n, nil
}

type rw struct {
	w *Writer
	r *Reader
}

func pipeRW(compress bool) rw {
	l := &loop{}
	w, r := NewWriter(l), NewReader(l)
	if compress {
		w.EnableCompression(0)
		r.EnableCompression()
	}
	return rw{w, r}
}

func TestBufPool(t *testing.T) {
	b := getBuf(100, 1<<30)
	if len(*b) < 100 || cap(*b) != 1<<minPoolClass {
		t.Fatalf("getBuf(100) cap %d", cap(*b))
	}
	putBuf(b)
	// Rounding up to a class never passes the limit.
	b = getBuf(40<<10, 50<<10)
	if cap(*b) != 50<<10 {
		t.Fatalf("getBuf(40K, limit 50K) cap %d", cap(*b))
	}
	putBuf(b) // goes to the 32 KiB class
	huge := getBuf(1<<maxPoolClass+1, 1<<30)
	if len(*huge) != 1<<maxPoolClass+1 {
		t.Fatalf("getBuf beyond the classes: %d", len(*huge))
	}
	putBuf(huge) // dropped
	small := make([]byte, 10)
	putBuf(&small) // dropped
}

// timeoutErr is a net.Error timeout, as a read deadline gives.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// stepReader returns its steps in turn: bytes, with an error or not.
type stepReader struct {
	steps []struct {
		b   []byte
		err error
	}
}

func (s *stepReader) Read(p []byte) (int, error) {
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	st := &s.steps[0]
	n := copy(p, st.b)
	st.b = st.b[n:]
	if len(st.b) > 0 {
		return n, nil
	}
	err := st.err
	s.steps = s.steps[1:]
	return n, err
}

func (s *stepReader) add(b []byte, err error) {
	s.steps = append(s.steps, struct {
		b   []byte
		err error
	}{b, err})
}

func TestReaderTimeoutResumes(t *testing.T) {
	big := bytes.Repeat([]byte("resumable "), 5000) // a pooled buffer
	frames := append(AppendFrame(nil, MsgToolResult, FlagResponse, 1, []byte("one")),
		AppendFrame(nil, MsgToolResult, FlagResponse, 2, big)...)
	for _, cut := range []int{0, 5, 10, HeaderSize + 1, 40, 1000, len(frames) - 1} {
		for _, withData := range []bool{false, true} {
			var sr stepReader
			if withData {
				sr.add(frames[:cut], timeoutErr{})
			} else {
				sr.add(frames[:cut], nil)
				sr.add(nil, os.ErrDeadlineExceeded)
			}
			sr.add(nil, timeoutErr{})
			sr.add(frames[cut:], nil)
			r := NewReader(&sr)
			var got []uint64
			timeouts := 0
			for {
				f, err := r.ReadFrame()
				if err == io.EOF {
					break
				}
				if isTimeout(err) {
					if timeouts++; timeouts > 3 {
						t.Fatal("too many timeouts")
					}
					continue
				}
				if err != nil {
					t.Fatalf("cut %d: %v", cut, err)
				}
				if f.ID == 2 && !bytes.Equal(f.Payload, big) {
					t.Fatalf("cut %d: frame 2 corrupted", cut)
				}
				got = append(got, f.ID)
			}
			if len(got) != 2 || got[0] != 1 || got[1] != 2 || timeouts < 1 {
				t.Fatalf("cut %d data %v: frames %v, %d timeouts", cut, withData, got, timeouts)
			}
		}
	}
	// Other errors stay sticky.
	var sr stepReader
	sr.add(frames[:5], errors.New("connection reset"))
	sr.add(frames[5:], nil)
	r := NewReader(&sr)
	if _, err := r.ReadFrame(); err == nil || isTimeout(err) {
		t.Fatalf("got %v", err)
	}
	if _, err := r.ReadFrame(); err == nil || err.Error() != "connection reset" {
		t.Fatalf("not sticky: %v", err)
	}
}
