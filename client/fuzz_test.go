package client

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

// scriptConn is a msgConn that returns scripted messages, then EOF. It
// parses them as the shared-memory transport does.
type scriptConn struct {
	mu   sync.Mutex
	msgs [][]byte
	msgFrames
}

func (s *scriptConn) ReadFrame(_ context.Context, buf []byte) (protocol.Frame, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		return protocol.Frame{}, buf, io.EOF
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return s.parse(append(buf[:0], m...))
}
func (s *scriptConn) WriteMsg(context.Context, []byte) error    { return nil }
func (s *scriptConn) WriteBatch([]byte, []int, *[][]byte) error { return nil }
func (s *scriptConn) SetReadDeadline(time.Time) error           { return nil }
func (s *scriptConn) Close() error                              { return nil }

// FuzzReadLoop feeds arbitrary messages from a "daemon" to a connection
// with a unary call and a stream in flight: nothing may panic or hang, and
// both calls must end.
func FuzzReadLoop(f *testing.F) {
	f.Add(protocol.AppendFrame(nil, protocol.MsgStreamChunk, protocol.FlagResponse|protocol.FlagStream, 3,
		protocol.Marshal(&protocol.StreamChunk{Delta: "x"})), uint8(0))
	f.Add(protocol.AppendFrame(nil, protocol.MsgError, protocol.FlagResponse, 2,
		protocol.Marshal(&protocol.Error{Code: 8})), uint8(1))
	f.Add(protocol.AppendFrame(nil, protocol.MsgDisconnect, protocol.FlagRequest, 0, nil), uint8(2))
	f.Add([]byte("junk"), uint8(3))
	// reps >= 128: compression was negotiated.
	f.Add(protocol.AppendFrameCompress(nil, 0x8001, protocol.FlagResponse, 2, bytes.Repeat([]byte("ab"), 300), 64), uint8(129))
	f.Add(protocol.AppendFrame(nil, protocol.MsgStreamChunk, protocol.FlagResponse|protocol.FlagStream|protocol.FlagCompressed, 3, []byte("zz")), uint8(130))
	o := defaultOptions()
	o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, msg []byte, reps uint8) {
		sc := &scriptConn{}
		sc.compress = reps >= 128
		for i := 0; i <= int(reps%20); i++ {
			sc.msgs = append(sc.msgs, msg)
		}
		c := &conn{t: sc, o: &o, calls: map[uint64]*pending{}, done: make(chan struct{}), nextID: 1}
		unary, stream := getPending(), getPending()
		stream.stream = true
		ctx := context.Background()
		c.start(ctx, 0x8001, nil, unary)  // id 2
		c.start(ctx, 0x8002, nil, stream) // id 3
		c.wg.Add(1)
		go c.readLoop()
		<-unary.ch
		for {
			_, _, ok, ended, _ := stream.pop()
			if !ok && ended {
				break
			}
			if !ok {
				<-stream.ch
			}
		}
		c.close()
	})
}
