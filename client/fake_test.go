package client

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// Application message types the fake daemon serves.
const (
	msgEcho       protocol.MsgType = 0x8001 // answers 0x8001 with the payload
	msgSilent     protocol.MsgType = 0x8002 // never answered
	msgBusy       protocol.MsgType = 0x8003 // retryable Overloaded error
	msgDisconnect protocol.MsgType = 0x8004 // daemon sends Disconnect
	msgDrop       protocol.MsgType = 0x8005 // daemon closes the connection
	msgGarbage    protocol.MsgType = 0x8006 // daemon sends bytes that are not a frame
	msgConnErr    protocol.MsgType = 0x8007 // daemon sends a connection-level Error
	msgBadZ       protocol.MsgType = 0x8008 // answered with a compressed payload that is not zstd
)

// fakeDaemon is a minimal ringwire daemon built on protocol and shmring,
// for the client's tests and examples (the real one lives in the daemon
// module, which the client must not require).
type fakeDaemon struct {
	path   string
	dir    string
	shm    *shmring.Listener
	sock   net.Listener
	refuse bool
	deaf   atomic.Bool // ignore heartbeats
	zstd   atomic.Bool // grant FeatureZstd to clients that offer it, and compress answers from 64 bytes
	// ackMode breaks the handshake answer: 1 wrong type, 2 bad version,
	// 3 malformed payload, 4 not a frame.
	ackMode atomic.Int32
	// chunks streamed per completion: the words of the prompt.
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[*fakeConn]struct{}
	cancels int
	closed  bool
}

type fakeConn struct {
	d      *fakeDaemon
	read   func() ([]byte, error)
	write  func([]byte) error
	close  func() error
	wmu    sync.Mutex
	mu     sync.Mutex
	credit map[uint64]chan int
	z      atomic.Bool // compression granted
}

func newFakeDaemon(t testing.TB, refuse bool) *fakeDaemon {
	t.Helper()
	d, err := startFakeDaemon(refuse)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.remove)
	return d
}

// startFakeDaemon starts a fake daemon in a new private directory.
func startFakeDaemon(refuse bool) (*fakeDaemon, error) {
	dir, err := os.MkdirTemp("", "rwcl")
	if err != nil {
		return nil, err
	}
	d := &fakeDaemon{dir: dir, path: filepath.Join(dir, "d.sock"), refuse: refuse, conns: map[*fakeConn]struct{}{}}
	if err := d.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return d, nil
}

// remove stops the daemon and deletes its directory.
func (d *fakeDaemon) remove() {
	d.stop()
	os.RemoveAll(d.dir)
}

func (d *fakeDaemon) start() error {
	refusal := protocol.AppendFrame(nil, protocol.MsgError, protocol.FlagResponse, 0,
		protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeTooManyConns, Message: "full", Retryable: true}))
	shm, err := shmring.Listen(d.path, shmring.WithAdmit(func(shmring.PeerInfo) ([]byte, bool) { return refusal, !d.refuse }))
	if err != nil {
		return err
	}
	sock, err := net.Listen("unix", protocol.StreamPath(d.path))
	if err != nil {
		shm.Close()
		return err
	}
	d.mu.Lock()
	d.shm, d.sock, d.closed = shm, sock, false
	d.mu.Unlock()
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		for {
			c, err := shm.AcceptConn()
			if err != nil {
				return
			}
			d.serve(&fakeConn{read: func() ([]byte, error) { return c.ReadMsg(nil) }, write: c.WriteMsg, close: c.Close})
		}
	}()
	go func() {
		defer d.wg.Done()
		for {
			c, err := sock.Accept()
			if err != nil {
				return
			}
			if d.refuse {
				c.Write(refusal)
				c.Close()
				continue
			}
			r := protocol.NewReader(c, protocol.WithCompression(0))
			d.serve(&fakeConn{read: func() ([]byte, error) {
				f, err := r.ReadFrame()
				if err != nil {
					return nil, err
				}
				return protocol.AppendFrame(nil, f.Type, f.Flags, f.ID, f.Payload), nil
			},
				write: func(p []byte) error { _, err := c.Write(p); return err }, close: c.Close})
		}
	}()
	return nil
}

// stop closes the listeners and every connection (like a killed daemon).
func (d *fakeDaemon) stop() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.shm.Close()
	d.sock.Close()
	for c := range d.conns {
		c.close()
	}
	d.mu.Unlock()
	d.wg.Wait()
	os.Remove(protocol.StreamPath(d.path))
}

func (d *fakeDaemon) serve(c *fakeConn) {
	c.d = d
	c.credit = map[uint64]chan int{}
	d.mu.Lock()
	d.conns[c] = struct{}{}
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			d.mu.Lock()
			delete(d.conns, c)
			d.mu.Unlock()
			c.close()
		}()
		for {
			msg, err := c.read()
			if err != nil {
				return
			}
			f, _, err := protocol.ParseFrame(msg)
			if err == nil {
				f, err = protocol.DecompressFrame(nil, f, 0)
			}
			if err != nil {
				return
			}
			if !c.handle(f) {
				return
			}
		}
	}()
}

func (c *fakeConn) send(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	threshold := 0
	if c.z.Load() {
		threshold = 64
	}
	c.write(protocol.AppendFrameCompress(nil, typ, flags, id, payload, threshold))
}

func (c *fakeConn) handle(f protocol.Frame) bool {
	resp := protocol.FlagResponse
	switch f.Type {
	case protocol.MsgHandshake:
		switch c.d.ackMode.Load() {
		case 1:
			c.send(protocol.MsgHeartbeat, resp, f.ID, nil)
			return true
		case 2:
			c.send(protocol.MsgHandshakeAck, resp, f.ID, protocol.Marshal(&protocol.HandshakeAck{Version: 9}))
			return true
		case 3:
			c.send(protocol.MsgHandshakeAck, resp, f.ID, []byte{1, 2, 3})
			return true
		case 4:
			c.wmu.Lock()
			c.write([]byte("\x43\x50\x41\x4c\x07 not a frame, padded to a header"))
			c.wmu.Unlock()
			return true
		}
		ack := protocol.HandshakeAck{Version: 1, SessionID: 42}
		if hs, err := protocol.ViewHandshake(f.Payload); err == nil && c.d.zstd.Load() {
			ack.Features = hs.Features() & protocol.FeatureZstd
		}
		c.send(protocol.MsgHandshakeAck, resp, f.ID, protocol.Marshal(&ack))
		c.z.Store(ack.Features.Has(protocol.FeatureZstd))
	case protocol.MsgHeartbeat:
		if c.d.deaf.Load() {
			return true
		}
		c.send(protocol.MsgHeartbeat, resp, f.ID, protocol.Marshal(&protocol.Heartbeat{}))
	case protocol.MsgDisconnect:
		return false
	case protocol.MsgCancel:
		c.d.mu.Lock()
		c.d.cancels++
		c.d.mu.Unlock()
		c.mu.Lock()
		if ch := c.credit[f.ID]; ch != nil {
			close(ch)
			delete(c.credit, f.ID)
		}
		c.mu.Unlock()
	case protocol.MsgCredit:
		n, err := protocol.ParseCredit(f.Payload)
		if err != nil {
			return false
		}
		c.mu.Lock()
		if ch := c.credit[f.ID]; ch != nil {
			ch <- int(n)
		}
		c.mu.Unlock()
	case msgEcho:
		c.send(msgEcho, resp, f.ID, f.Payload)
	case msgSilent:
	case msgBusy:
		c.send(protocol.MsgError, resp, f.ID, protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeOverloaded, Retryable: true}))
	case msgDisconnect:
		c.send(protocol.MsgDisconnect, protocol.FlagRequest, 0, protocol.Marshal(&protocol.Disconnect{Reason: "bye"}))
	case msgDrop:
		return false
	case msgGarbage:
		c.wmu.Lock()
		c.write([]byte("this is not a frame at all, not at all"))
		c.wmu.Unlock()
	case msgBadZ:
		c.send(msgBadZ, resp|protocol.FlagCompressed, f.ID, []byte("not zstd at all"))
	case msgConnErr:
		c.send(protocol.MsgError, resp, 0, protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeInternal, Message: "oops"}))
	case protocol.MsgToolCall:
		var tc protocol.ToolCall
		tc.Unmarshal(f.Payload)
		c.send(protocol.MsgToolResult, resp, f.ID, protocol.Marshal(&protocol.ToolResult{CallID: tc.ID, Content: tc.Arguments}))
	case protocol.MsgCompletionRequest:
		var req protocol.CompletionRequest
		if err := req.Unmarshal(f.Payload); err != nil || len(req.Messages) == 0 {
			c.send(protocol.MsgError, resp, f.ID, protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeMalformed}))
			return true
		}
		words := strings.Fields(req.Messages[0].Content)
		if !req.Stream {
			c.send(protocol.MsgCompletionResponse, resp, f.ID, protocol.Marshal(&protocol.CompletionResponse{Content: strings.Join(words, " ")}))
			return true
		}
		ch := make(chan int, 64)
		c.mu.Lock()
		c.credit[f.ID] = ch
		c.mu.Unlock()
		c.d.wg.Add(1)
		go c.stream(f.ID, words, ch)
	}
	return true
}

// stream sends one chunk per word and a final chunk, honouring credit.
// A word "ERR" makes it end with an Error instead.
func (c *fakeConn) stream(id uint64, words []string, ch chan int) {
	defer c.d.wg.Done()
	credit := protocol.StreamWindow
	for i := 0; i <= len(words); i++ {
		for credit == 0 {
			select {
			case n, ok := <-ch:
				if !ok {
					return
				}
				credit += n
			case <-time.After(5 * time.Second):
				return
			}
		}
		credit--
		if i < len(words) && words[i] == "ERR" {
			c.send(protocol.MsgError, protocol.FlagResponse|protocol.FlagStream|protocol.FlagEnd, id,
				protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeUnavailable, Message: "provider down", Retryable: true}))
			return
		}
		chunk := protocol.StreamChunk{Sequence: uint32(i)}
		flags := protocol.FlagResponse | protocol.FlagStream
		if i == len(words) {
			chunk.Final = true
			flags |= protocol.FlagEnd
		} else {
			chunk.Delta = words[i] + " "
		}
		c.send(protocol.MsgStreamChunk, flags, id, protocol.Marshal(&chunk))
	}
	c.mu.Lock()
	delete(c.credit, id)
	c.mu.Unlock()
}
