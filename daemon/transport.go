package daemon

import (
	"github.com/ringwire/ringwire/protocol"
)

// frameConn is what a session needs from a transport to send: frames
// out, one at a time or a batch at once, and Close, which unblocks
// pending calls. How frames come in depends on the transport: a
// frameReader (socket) or a batchConn (shared memory).
type frameConn interface {
	// WriteFrame encodes and writes one frame; once EnableCompression
	// set a threshold, a payload of at least that many bytes is sent
	// compressed when that makes it smaller.
	WriteFrame(typ protocol.MsgType, flags protocol.Flags, id uint64, payload []byte) error
	// WriteFrames writes the frames encoded back to back in buf, ends[i]
	// being where frame i ends, with one write or one ring publish.
	WriteFrames(buf []byte, ends []int) error
	// EnableCompression is called once the handshake granted
	// protocol.FeatureZstd: written payloads of threshold bytes or more
	// are compressed where it pays (threshold <= 0: none are), and
	// compressed frames are accepted.
	EnableCompression(threshold int)
	Close() error
}

// frameReader is a transport whose frames arrive on a byte stream. A
// returned frame, payload included, is valid until the next ReadFrame.
// Buffered reports the input read and not yet returned as frames: the
// session writes its batched answers when none is left.
type frameReader interface {
	ReadFrame() (protocol.Frame, error)
	Buffered() int
}

// batchConn is a transport that reads every waiting message at once and
// writes several with one publish (the shared-memory transport).
type batchConn interface {
	PeekBatch(dst [][]byte) ([][]byte, error)
	Release()
	WriteMsgs(msgs [][]byte) (int, error)
}
