package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

func handshakeFrame(id uint64) []byte {
	return protocol.AppendFrame(nil, protocol.MsgHandshake, protocol.FlagRequest, id,
		protocol.Marshal(&protocol.Handshake{MinVersion: 1, MaxVersion: 1, ClientName: "raw"}))
}

// rawPeer is a hand-driven client over one of the transports.
type rawPeer struct {
	t     *testing.T
	conn  net.Conn // the socket transport's connection, or nil
	write func([]byte) error
	read  func() ([]byte, error)
	close func()
}

func rawSocket(t *testing.T, srv *Server) *rawPeer {
	c, err := net.Dial("unix", protocol.StreamPath(srv.SocketPath()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := protocol.NewReader(c)
	return &rawPeer{t: t, conn: c,
		write: func(b []byte) error { _, err := c.Write(b); return err },
		read: func() ([]byte, error) {
			f, err := r.ReadFrame()
			if err != nil {
				return nil, err
			}
			return protocol.AppendFrame(nil, f.Type, f.Flags, f.ID, f.Payload), nil
		},
		close: func() { c.Close() },
	}
}

func rawShm(t *testing.T, srv *Server) *rawPeer {
	c, err := shmring.Dial(context.Background(), srv.SocketPath(), shmring.WithRingSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawPeer{t: t,
		write: c.WriteMsg,
		read:  func() ([]byte, error) { return c.ReadMsg(nil) },
		close: func() { c.Close() },
	}
}

// expectError reads frames until an Error frame and checks its code; the
// connection must then end.
func (p *rawPeer) expectError(code protocol.ErrorCode) {
	p.t.Helper()
	for {
		msg, err := p.read()
		if err != nil {
			p.t.Fatalf("want an Error frame (%v), got %v", code, err)
		}
		f, _, err := protocol.ParseFrame(msg)
		if err != nil {
			p.t.Fatal(err)
		}
		if f.Type != protocol.MsgError {
			continue
		}
		v, err := protocol.ViewError(f.Payload)
		if err != nil {
			p.t.Fatal(err)
		}
		if v.Code() != code {
			p.t.Fatalf("Error code %v (%s), want %v", v.Code(), v.Message(), code)
		}
		break
	}
	if _, err := p.read(); err == nil {
		p.t.Fatal("session still open after a fatal Error")
	}
}

func (p *rawPeer) handshake() {
	p.t.Helper()
	if err := p.write(handshakeFrame(1)); err != nil {
		p.t.Fatal(err)
	}
	msg, err := p.read()
	if err != nil {
		p.t.Fatal(err)
	}
	if f, _, err := protocol.ParseFrame(msg); err != nil || f.Type != protocol.MsgHandshakeAck {
		p.t.Fatalf("handshake answer %v, %v", f, err)
	}
}

func TestBadInput(t *testing.T) {
	srv := testServer(t, Config{MaxPayload: 1 << 20})
	good := dial(t, srv)
	badCRC := handshakeFrame(1)
	badCRC[len(badCRC)-1] ^= 0xFF
	huge := handshakeFrame(1)
	binary.LittleEndian.PutUint32(huge[8:], 4<<30-1)
	ping := protocol.AppendFrame(nil, protocol.MsgHeartbeat, protocol.FlagRequest, 2, nil)
	cases := []struct {
		name   string
		hs     bool
		frames [][]byte
		code   protocol.ErrorCode
	}{
		{"garbage", false, [][]byte{[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}, protocol.ErrCodeBadFrame},
		{"bad CRC", false, [][]byte{badCRC}, protocol.ErrCodeBadFrame},
		{"oversized length", false, [][]byte{huge}, protocol.ErrCodeTooLarge},
		{"before handshake", false, [][]byte{ping}, protocol.ErrCodeProtocol},
		{"unknown type", true, [][]byte{protocol.AppendFrame(nil, 0x8123, protocol.FlagRequest, 2, nil)}, protocol.ErrCodeUnknownType},
		{"id in flight", true, [][]byte{
			protocol.AppendFrame(nil, protocol.MsgToolCall, protocol.FlagRequest, 5, protocol.Marshal(&protocol.ToolCall{Name: "sleep", Arguments: "5000"})),
			protocol.AppendFrame(nil, protocol.MsgToolCall, protocol.FlagRequest, 5, protocol.Marshal(&protocol.ToolCall{Name: "sleep", Arguments: "5000"})),
		}, protocol.ErrCodeProtocol},
		{"second handshake", true, [][]byte{handshakeFrame(7)}, protocol.ErrCodeProtocol},
		{"rule breach", true, [][]byte{protocol.AppendFrame(nil, protocol.MsgCompletionResponse, protocol.FlagRequest, 9, nil)}, protocol.ErrCodeProtocol},
		{"unexpected response", true, [][]byte{protocol.AppendFrame(nil, protocol.MsgHeartbeat, protocol.FlagResponse, 9, nil)}, protocol.ErrCodeProtocol},
		{"compressed", true, [][]byte{protocol.AppendFrame(nil, protocol.MsgHeartbeat, protocol.FlagRequest|protocol.FlagCompressed, 9, nil)}, protocol.ErrCodeProtocol},
		{"bad credit", true, [][]byte{protocol.AppendFrame(nil, protocol.MsgCredit, protocol.FlagRequest, 9, []byte{1})}, protocol.ErrCodeMalformed},
		{"bad heartbeat", true, [][]byte{protocol.AppendFrame(nil, protocol.MsgHeartbeat, protocol.FlagRequest, 9, []byte{1, 2, 3})}, protocol.ErrCodeMalformed},
		{"bad handshake", false, [][]byte{protocol.AppendFrame(nil, protocol.MsgHandshake, protocol.FlagRequest, 1, []byte{9, 9})}, protocol.ErrCodeMalformed},
		{"bad version", false, [][]byte{protocol.AppendFrame(nil, protocol.MsgHandshake, protocol.FlagRequest, 1,
			protocol.Marshal(&protocol.Handshake{MinVersion: 2, MaxVersion: 3}))}, protocol.ErrCodeVersion},
	}
	for _, tc := range cases {
		for _, tr := range []string{"socket", "shm"} {
			t.Run(tc.name+"/"+tr, func(t *testing.T) {
				var p *rawPeer
				if tr == "socket" {
					p = rawSocket(t, srv)
				} else {
					p = rawShm(t, srv)
				}
				if tc.hs {
					p.handshake()
				}
				for _, f := range tc.frames {
					if err := p.write(f); err != nil {
						t.Fatal(err)
					}
				}
				p.expectError(tc.code)
				// Every other session carries on.
				if _, err := good.Ping(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// Two frames in one shm message, and a short frame.
func TestBadInputShmFraming(t *testing.T) {
	srv := testServer(t, Config{})
	p := rawShm(t, srv)
	p.write(append(handshakeFrame(1), handshakeFrame(2)...))
	p.expectError(protocol.ErrCodeBadFrame)
	p = rawShm(t, srv)
	p.write(handshakeFrame(1)[:30])
	p.expectError(protocol.ErrCodeBadFrame)
}

func TestSocketTruncatedFrame(t *testing.T) {
	srv := testServer(t, Config{})
	for _, n := range []int{10, 30} {
		p := rawSocket(t, srv)
		p.write(handshakeFrame(1)[:n])
		p.close()
	}
	cl := dial(t, srv)
	if _, err := cl.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	srv := testServer(t, Config{HandshakeTimeout: 20 * time.Millisecond})
	p := rawSocket(t, srv)
	if _, err := p.read(); !errors.Is(err, io.EOF) {
		t.Fatalf("silent peer: %v", err)
	}
}

func TestCreditAndCancelForUnknownIDs(t *testing.T) {
	srv := testServer(t, Config{})
	p := rawSocket(t, srv)
	p.handshake()
	credit := make([]byte, 4)
	binary.LittleEndian.PutUint32(credit, 3)
	p.write(protocol.AppendFrame(nil, protocol.MsgCredit, protocol.FlagRequest, 77, credit))
	p.write(protocol.AppendFrame(nil, protocol.MsgCancel, protocol.FlagRequest, 78, nil))
	p.write(protocol.AppendFrame(nil, protocol.MsgHeartbeat, protocol.FlagRequest, 2, nil))
	msg, err := p.read()
	if err != nil {
		t.Fatal(err)
	}
	if f, _, _ := protocol.ParseFrame(msg); f.Type != protocol.MsgHeartbeat || f.ID != 2 {
		t.Fatalf("got %v", f)
	}
	p.write(protocol.AppendFrame(nil, protocol.MsgDisconnect, protocol.FlagRequest, 0, nil))
	if _, err := p.read(); err == nil {
		t.Fatal("session open after Disconnect")
	}
}

// A client that stops reading must not hold up Shutdown.
func TestShutdownWithHungClient(t *testing.T) {
	srv := testServer(t, Config{})
	c, err := shmring.Dial(context.Background(), srv.SocketPath(), shmring.WithRingSize(shmring.MinRingSize))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMsg(handshakeFrame(1)); err != nil {
		t.Fatal(err)
	}
	// Far more Heartbeats than the answers the daemon can fit in our ring,
	// which we never read.
	wctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	for id := uint64(2); id < 2000; id++ {
		if c.WriteMsgContext(wctx, protocol.AppendFrame(nil, protocol.MsgHeartbeat, protocol.FlagRequest, id, nil)) != nil {
			break
		}
	}
	start := time.Now()
	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	srv.Shutdown(ctx)
	d := time.Since(start)
	t.Logf("shutdown with a hung client took %v", d)
	if d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}
