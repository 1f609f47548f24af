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
	f.Add(protocol.AppendFrame(nil, protocol.MsgToolCall, protocol.FlagRequest|protocol.FlagCompressed, 3, []byte("not zstd")))
	srv, err := New(Config{SocketPath: "/nonexistent/x.sock", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CompressShm: 1})
	if err != nil {
		f.Fatal(err)
	}
	zstdHandshake := protocol.AppendFrame(nil, protocol.MsgHandshake, protocol.FlagRequest, 1,
		protocol.Marshal(&protocol.Handshake{MinVersion: 1, MaxVersion: 1, ClientName: "raw", Features: protocol.FeatureZstd}))
	f.Fuzz(func(t *testing.T, msg []byte) {
		// A session without compression, and one that granted it (so
		// compressed frames reach the decompressor).
		for _, hs := range [][]byte{handshakeFrame(1), zstdHandshake} {
			s := newSession(srv, &nullConn{}, SessionInfo{ID: 1, Transport: protocol.TransportShm})
			if err := s.handleMsg(hs); err != nil {
				t.Fatal(err)
			}
			// The fuzzer's bytes, then the same bytes with a valid header,
			// then compressed as a client would.
			_ = s.handleMsg(msg)
			if len(msg) >= 8 {
				typ := protocol.MsgType(uint16(msg[0]) | uint16(msg[1])<<8)
				_ = s.handleMsg(protocol.AppendFrame(nil, typ, protocol.Flags(msg[2]), uint64(msg[3])+100, msg[8:]))
				_ = s.handleMsg(protocol.AppendFrameCompress(nil, typ, protocol.Flags(msg[2]), uint64(msg[3])+400, msg[8:], 1))
			}
			s.close()
			<-s.done
		}
	})
}
