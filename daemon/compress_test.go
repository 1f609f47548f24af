package daemon

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

// source is compressible text the size of a small source file.
var source = strings.Repeat("func (s *session) serveFrame(f protocol.Frame) error { return nil }\n", 600)

// Compression on, off on either side, over both transports: calls work,
// and the answers are the same.
func TestCompressionNegotiated(t *testing.T) {
	for _, tc := range []struct {
		name    string
		daemon  int // Config threshold: -1 off
		client  int // WithCompression: 0 off
		granted bool
	}{
		{"both", 64, 64, true},
		{"daemon off", -1, 64, false},
		{"client off", 64, 0, false},
	} {
		srv := testServer(t, Config{CompressShm: tc.daemon, CompressSocket: tc.daemon})
		for _, tr := range []protocol.Transport{protocol.TransportShm, protocol.TransportSocket} {
			t.Run(tc.name+"/"+tr.String(), func(t *testing.T) {
				cl := dial(t, srv, client.WithTransport(tr), client.WithCompression(tc.client))
				for _, args := range []string{"{}", source, source + source} {
					res, err := cl.CallTool(context.Background(), &protocol.ToolCall{Name: "echo", Arguments: args})
					if err != nil {
						t.Fatal(err)
					}
					if res.Content != args {
						t.Fatalf("echo of %d bytes came back as %d bytes", len(args), len(res.Content))
					}
				}
				if _, err := cl.Ping(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		}
		// What the daemon grants, seen by a raw peer that offers zstd.
		p := rawShm(t, srv)
		ack := p.handshakeWith(protocol.FeatureZstd)
		if ack.Features.Has(protocol.FeatureZstd) != (tc.daemon > 0) {
			t.Fatalf("%s: granted %v", tc.name, ack.Features)
		}
		// A raw peer that offers nothing is granted nothing.
		if ack := rawShm(t, srv).handshakeWith(0); ack.Features != 0 {
			t.Fatalf("%s: granted %v unasked", tc.name, ack.Features)
		}
	}
}

// handshakeWith handshakes offering features and returns the answer.
func (p *rawPeer) handshakeWith(features protocol.Features) protocol.HandshakeAck {
	p.t.Helper()
	hs := protocol.AppendFrame(nil, protocol.MsgHandshake, protocol.FlagRequest, 1,
		protocol.Marshal(&protocol.Handshake{MinVersion: 1, MaxVersion: 1, Features: features}))
	if err := p.write(hs); err != nil {
		p.t.Fatal(err)
	}
	msg, err := p.read()
	if err != nil {
		p.t.Fatal(err)
	}
	f, _, err := protocol.ParseFrame(msg)
	if err != nil || f.Type != protocol.MsgHandshakeAck {
		p.t.Fatalf("handshake answer %v, %v", f, err)
	}
	var ack protocol.HandshakeAck
	if err := ack.Unmarshal(f.Payload); err != nil {
		p.t.Fatal(err)
	}
	return ack
}

// readFrame reads one frame, decompressing it, and reports whether it
// came compressed.
func (p *rawPeer) readFrame() (protocol.Frame, bool) {
	p.t.Helper()
	msg, err := p.read()
	if err != nil {
		p.t.Fatal(err)
	}
	f, _, err := protocol.ParseFrame(msg)
	if err != nil {
		p.t.Fatal(err)
	}
	z := f.Flags&protocol.FlagCompressed != 0
	if f, err = protocol.DecompressFrame(nil, f, 0); err != nil {
		p.t.Fatal(err)
	}
	return f, z
}

// On the wire, once granted: compressed requests are read, large answers
// go compressed (inline heartbeats and handler answers alike), and a
// compressed request that cannot be decompressed is answered with an
// Error for its id while the session goes on.
func TestCompressionOnTheWire(t *testing.T) {
	srv := testServer(t, Config{CompressShm: 1024, CompressSocket: 1024, MaxPayload: 64 << 10})
	for _, tr := range []string{"shm", "socket"} {
		t.Run(tr, func(t *testing.T) {
			var p *rawPeer
			if tr == "shm" {
				p = rawShm(t, srv)
			} else {
				p = rawSocketRaw(t, srv)
			}
			if ack := p.handshakeWith(protocol.FeatureZstd); !ack.Features.Has(protocol.FeatureZstd) {
				t.Fatal("zstd not granted")
			}
			call := protocol.Marshal(&protocol.ToolCall{Name: "echo", Arguments: source})
			p.write(protocol.AppendFrameCompress(nil, protocol.MsgToolCall, protocol.FlagRequest, 2, call, 64))
			f, z := p.readFrame()
			var res protocol.ToolResult
			if err := res.Unmarshal(f.Payload); err != nil || f.ID != 2 || res.Content != source || !z {
				t.Fatalf("echo: %v compressed %v, %v", f, z, err)
			}
			// Small answers stay uncompressed.
			p.write(protocol.AppendFrameCompress(nil, protocol.MsgHeartbeat, protocol.FlagRequest, 3, nil, 64))
			if f, z := p.readFrame(); f.ID != 3 || z {
				t.Fatalf("heartbeat: %v compressed %v", f, z)
			}
			// Bad compressed payloads: an Error for that id, then on.
			bomb := protocol.AppendFrameCompress(nil, protocol.MsgToolCall, protocol.FlagRequest, 5,
				protocol.Marshal(&protocol.ToolCall{Name: "echo", Arguments: strings.Repeat("a", 100<<10)}), 64)
			// In id order: ids must increase, or the session ends.
			for _, bad := range []struct {
				id    uint64
				frame []byte
				want  protocol.ErrorCode
			}{
				{4, protocol.AppendFrame(nil, protocol.MsgToolCall, protocol.FlagRequest|protocol.FlagCompressed, 4, []byte("not zstd")), protocol.ErrCodeMalformed},
				{5, bomb, protocol.ErrCodeTooLarge},
			} {
				id, want := bad.id, bad.want
				p.write(bad.frame)
				f, _ := p.readFrame()
				v, err := protocol.ViewError(f.Payload)
				if err != nil || f.Type != protocol.MsgError || f.ID != id || v.Code() != want {
					t.Fatalf("id %d: %v, %v, code %v (want %v)", id, f, err, v.Code(), want)
				}
			}
			p.write(protocol.AppendFrame(nil, protocol.MsgHeartbeat, protocol.FlagRequest, 9, nil))
			if f, _ := p.readFrame(); f.ID != 9 {
				t.Fatalf("after bad payloads: %v", f)
			}
			// A bad compressed payload on a frame that is no new request
			// ends the session.
			p.write(protocol.AppendFrame(nil, protocol.MsgToolCall, protocol.FlagRequest|protocol.FlagCompressed, 9, []byte("x")))
			p.expectError(protocol.ErrCodeMalformed)
		})
	}
}

// rawSocketRaw is rawSocket reading with a Reader that accepts compressed
// frames. A Reader hides whether a frame came compressed, so read
// re-encodes each frame as the daemon would (threshold 1 KiB): on the
// socket the test checks that compressed requests are read and answers
// decoded, not the flag of each answer.
func rawSocketRaw(t *testing.T, srv *Server) *rawPeer {
	p := rawSocket(t, srv)
	c := p.conn
	r := protocol.NewReader(c, protocol.WithCompression(0))
	var last []byte
	p.read = func() ([]byte, error) {
		f, err := r.ReadFrame()
		if err != nil {
			return nil, err
		}
		last = protocol.AppendFrameCompress(last[:0], f.Type, f.Flags, f.ID, f.Payload, 1024)
		return bytes.Clone(last), nil
	}
	return p
}
