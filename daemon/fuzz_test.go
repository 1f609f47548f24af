package daemon

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/ringwire/ringwire/protocol"
)

// nullConn is a frameConn that discards what is written.
type nullConn struct {
	mu     sync.Mutex
	closed bool
}

func (c *nullConn) WriteFrame(protocol.MsgType, protocol.Flags, uint64, []byte) error {
	return c.WriteFrames(nil, nil)
}
func (c *nullConn) WriteFrames([]byte, []int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	return nil
}
func (c *nullConn) EnableCompression(int) {}
func (c *nullConn) Close() error          { c.mu.Lock(); c.closed = true; c.mu.Unlock(); return nil }

// FuzzHandleMsg feeds arbitrary messages to a session, as a client would
// send them, after a valid handshake: nothing may panic or hang.
func FuzzHandleMsg(f *testing.F) {
	f.Add(handshakeFrame(2))
	f.Add(protocol.AppendFrame(nil, protocol.MsgHeartbeat, protocol.FlagRequest, 2, nil))
	f.Add(protocol.AppendFrame(nil, protocol.MsgCompletionRequest, protocol.FlagRequest, 2,
		protocol.Marshal(&protocol.CompletionRequest{Messages: []protocol.ChatMessage{{Content: "a b"}}, Stream: true})))
	f.Add(protocol.AppendFrame(nil, protocol.MsgToolCall, protocol.FlagRequest, 3, protocol.Marshal(&protocol.ToolCall{Name: "echo"})))
	f.Add(protocol.AppendFrame(nil, protocol.MsgCredit, protocol.FlagRequest, 3, []byte{1, 0, 0, 0}))
	f.Add(protocol.AppendFrame(nil, protocol.MsgCancel, protocol.FlagRequest, 3, nil))
	f.Add(protocol.AppendFrame(nil, protocol.MsgStats, protocol.FlagRequest, 4, nil))
	f.Add([]byte("garbage"))
	srv, err := New(Config{SocketPath: "/nonexistent/x.sock", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := newSession(srv, &nullConn{}, SessionInfo{ID: 1, Transport: protocol.TransportSocket})
		if err := s.handleMsg(handshakeFrame(1)); err != nil {
			t.Fatal(err)
		}
		// The fuzzer's bytes, then the same bytes with a valid header.
		_ = s.handleMsg(msg)
		if len(msg) >= 8 {
			typ := protocol.MsgType(uint16(msg[0]) | uint16(msg[1])<<8)
			_ = s.handleMsg(protocol.AppendFrame(nil, typ, protocol.Flags(msg[2]), uint64(msg[3])+100, msg[8:]))
		}
		s.close()
		<-s.done
	})
}
