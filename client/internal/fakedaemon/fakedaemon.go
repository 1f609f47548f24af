// Package fakedaemon is a test double of ringwired for the client module's
// tests (package client and cmd/ringwirectl), which must not require the
// daemon module. It is built on protocol and shmring and speaks the subset
// of the protocol the client needs, on both transports: the Handshake
// (optionally granting zstd), Heartbeat, Cancel, Credit, Disconnect, Stats,
// ToolCall (echoes the arguments; IsError for ToolFail), CompletionRequest (answers with the
// words of the first message, one-shot or streamed a word per chunk under
// credit), and a few application message types that misbehave on demand
// (MsgSilent, MsgDrop, MsgGarbage, ...). It is not a daemon: no limits, no
// providers, no tools.
//
//	d := fakedaemon.New(t, false)
//	cl, err := client.Dial(ctx, d.Path)
package fakedaemon

import (
	"errors"
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

// ToolFail is the tool name whose calls the fake answers with a
// ToolResult with IsError set (the content is still the arguments).
const ToolFail = "fail"

// Application message types the fake serves.
const (
	MsgEcho       protocol.MsgType = 0x8001 // answered with a frame of the same type and payload
	MsgSilent     protocol.MsgType = 0x8002 // never answered
	MsgBusy       protocol.MsgType = 0x8003 // answered with a retryable Overloaded error
	MsgDisconnect protocol.MsgType = 0x8004 // the fake sends Disconnect ("bye")
	MsgDrop       protocol.MsgType = 0x8005 // the fake closes the connection
	MsgGarbage    protocol.MsgType = 0x8006 // the fake sends bytes that are not a frame
	MsgConnErr    protocol.MsgType = 0x8007 // the fake sends a connection-level Error
	MsgBadZ       protocol.MsgType = 0x8008 // answered with a compressed payload that is not zstd
)

// AckMode breaks the fake's answer to the Handshake, for SetAckMode.
type AckMode int32

const (
	AckOK         AckMode = iota // a valid HandshakeAck (the default)
	AckWrongType                 // a Heartbeat instead of a HandshakeAck
	AckBadVersion                // a HandshakeAck choosing version 9
	AckMalformed                 // a HandshakeAck whose payload is not a table
	AckNotFrame                  // bytes with the magic that are not a frame
)

// StreamFail is the word of a streamed completion's prompt at which the
// fake ends the stream with a retryable Unavailable error.
const StreamFail = "ERR"

// Daemon is a running fake: it listens at Path for the shared-memory
// transport and at protocol.StreamPath(Path) for the socket transport.
type Daemon struct {
	// Path is the socket to Dial, in a private directory of its own.
	Path string

	dir     string
	refuse  bool
	zstd    atomic.Bool
	ackMode atomic.Int32
	stats   atomic.Pointer[[]byte]

	wg      sync.WaitGroup
	mu      sync.Mutex
	shm     *shmring.Listener
	sock    net.Listener
	conns   map[*conn]struct{}
	ignore  map[protocol.MsgType]bool
	cancels int
	closed  bool
}

// New starts a fake daemon and stops it, removing its directory, when
// the test ends. With refuse it refuses every connection at setup (an
// Error frame, code TooManyConns, retryable).
func New(t testing.TB, refuse bool) *Daemon {
	t.Helper()
	d, err := Start(refuse)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Remove)
	return d
}

// Start starts a fake daemon in a new private directory; Remove stops it
// and deletes the directory.
func Start(refuse bool) (*Daemon, error) {
	dir, err := os.MkdirTemp("", "rwfake")
	if err != nil {
		return nil, err
	}
	d := &Daemon{dir: dir, Path: filepath.Join(dir, "d.sock"), refuse: refuse,
		conns: map[*conn]struct{}{}, ignore: map[protocol.MsgType]bool{}}
	if err := d.Restart(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return d, nil
}

// Remove stops the daemon and deletes its directory.
func (d *Daemon) Remove() {
	d.Stop()
	os.RemoveAll(d.dir)
}

// SetZstd makes the fake grant protocol.FeatureZstd to clients that offer
// it (from their next Handshake) and then compress its answers from 64
// bytes.
func (d *Daemon) SetZstd(on bool) { d.zstd.Store(on) }

// SetAckMode breaks (or, with AckOK, mends) the answer to the next
// Handshakes.
func (d *Daemon) SetAckMode(m AckMode) { d.ackMode.Store(int32(m)) }

// Ignore makes the fake leave requests of type typ unanswered from now on
// (protocol.MsgHeartbeat: a daemon that stopped answering heartbeats).
func (d *Daemon) Ignore(typ protocol.MsgType) {
	d.mu.Lock()
	d.ignore[typ] = true
	d.mu.Unlock()
}

// SetStats sets the payload the fake answers protocol.MsgStats with
// (default: {}, an empty JSON object).
func (d *Daemon) SetStats(payload []byte) { d.stats.Store(&payload) }

// Cancels is the number of Cancel frames received so far.
func (d *Daemon) Cancels() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancels
}

// Restart listens again after Stop (Start calls it the first time).
func (d *Daemon) Restart() error {
	refusal := protocol.AppendFrame(nil, protocol.MsgError, protocol.FlagResponse, 0,
		protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeTooManyConns, Message: "full", Retryable: true}))
	// Where the shared-memory transport does not exist (shmring is
	// Linux-only), the fake serves the socket transport alone, so the
	// client's socket-transport tests run there too.
	shm, err := shmring.Listen(d.Path, shmring.WithAdmit(func(shmring.PeerInfo) ([]byte, bool) { return refusal, !d.refuse }))
	if errors.Is(err, shmring.ErrUnsupported) {
		shm, err = nil, nil
	}
	if err != nil {
		return err
	}
	sock, err := net.Listen("unix", protocol.StreamPath(d.Path))
	if err != nil {
		if shm != nil {
			shm.Close()
		}
		return err
	}
	d.mu.Lock()
	d.shm, d.sock, d.closed = shm, sock, false
	d.mu.Unlock()
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		for shm != nil {
			c, err := shm.AcceptConn()
			if err != nil {
				return
			}
			d.serve(&conn{read: func() ([]byte, error) { return c.ReadMsg(nil) }, write: c.WriteMsg, close: c.Close})
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
			d.serve(&conn{read: func() ([]byte, error) {
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

// Stop closes the listeners and every connection, like a killed daemon,
// and waits for the fake's goroutines.
func (d *Daemon) Stop() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	if d.shm != nil {
		d.shm.Close()
	}
	d.sock.Close()
	for c := range d.conns {
		c.close()
	}
	d.mu.Unlock()
	d.wg.Wait()
	os.Remove(protocol.StreamPath(d.Path))
}

// conn is one client connection, on either transport.
type conn struct {
	d      *Daemon
	read   func() ([]byte, error)
	write  func([]byte) error
	close  func() error
	wmu    sync.Mutex
	mu     sync.Mutex
	credit map[uint64]chan int
	z      atomic.Bool // compression granted
}

func (d *Daemon) serve(c *conn) {
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

func (c *conn) send(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	threshold := 0
	if c.z.Load() {
		threshold = 64
	}
	c.write(protocol.AppendFrameCompress(nil, typ, flags, id, payload, threshold))
}

// statsPayload is the answer to MsgStats.
func (d *Daemon) statsPayload() []byte {
	if p := d.stats.Load(); p != nil {
		return *p
	}
	return []byte("{}")
}

// handle serves one frame; false ends the connection.
func (c *conn) handle(f protocol.Frame) bool {
	c.d.mu.Lock()
	ignored := c.d.ignore[f.Type]
	c.d.mu.Unlock()
	if ignored {
		return true
	}
	resp := protocol.FlagResponse
	switch f.Type {
	case protocol.MsgHandshake:
		switch AckMode(c.d.ackMode.Load()) {
		case AckWrongType:
			c.send(protocol.MsgHeartbeat, resp, f.ID, nil)
			return true
		case AckBadVersion:
			c.send(protocol.MsgHandshakeAck, resp, f.ID, protocol.Marshal(&protocol.HandshakeAck{Version: 9}))
			return true
		case AckMalformed:
			c.send(protocol.MsgHandshakeAck, resp, f.ID, []byte{1, 2, 3})
			return true
		case AckNotFrame:
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
	case protocol.MsgStats:
		c.send(protocol.MsgStats, resp, f.ID, c.d.statsPayload())
	case MsgEcho:
		c.send(MsgEcho, resp, f.ID, f.Payload)
	case MsgSilent:
	case MsgBusy:
		c.send(protocol.MsgError, resp, f.ID, protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeOverloaded, Retryable: true}))
	case MsgDisconnect:
		c.send(protocol.MsgDisconnect, protocol.FlagRequest, 0, protocol.Marshal(&protocol.Disconnect{Reason: "bye"}))
	case MsgDrop:
		return false
	case MsgGarbage:
		c.wmu.Lock()
		c.write([]byte("this is not a frame at all, not at all"))
		c.wmu.Unlock()
	case MsgBadZ:
		c.send(MsgBadZ, resp|protocol.FlagCompressed, f.ID, []byte("not zstd at all"))
	case MsgConnErr:
		c.send(protocol.MsgError, resp, 0, protocol.Marshal(&protocol.Error{Code: protocol.ErrCodeInternal, Message: "oops"}))
	case protocol.MsgToolCall:
		var tc protocol.ToolCall
		tc.Unmarshal(f.Payload)
		c.send(protocol.MsgToolResult, resp, f.ID, protocol.Marshal(&protocol.ToolResult{CallID: tc.ID, Content: tc.Arguments, IsError: tc.Name == ToolFail}))
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
// The word StreamFail makes it end with an Error instead.
func (c *conn) stream(id uint64, words []string, ch chan int) {
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
		if i < len(words) && words[i] == StreamFail {
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
