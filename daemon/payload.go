package daemon

import (
	"sync"

	"github.com/ringwire/ringwire/protocol"
)

// encoders reuses FlatBuffers encoders across handlers.
var encoders = sync.Pool{New: func() any { return protocol.NewEncoder(1024) }}

// encodeMsg appends the payload of m to dst.
func encodeMsg(dst []byte, m protocol.Message) []byte {
	e := encoders.Get().(*protocol.Encoder)
	dst = append(dst, e.Encode(m)...)
	encoders.Put(e)
	return dst
}

func encodeError(dst []byte, code protocol.ErrorCode, msg string, retryable bool) []byte {
	return encodeMsg(dst, &protocol.Error{Code: code, Message: msg, Retryable: retryable})
}

func encodeDisconnect(dst []byte, code protocol.ErrorCode, reason string) []byte {
	return encodeMsg(dst, &protocol.Disconnect{Code: code, Reason: reason})
}

// handshakeInfo is what the daemon uses of a client's Handshake.
type handshakeInfo struct {
	minVersion, maxVersion uint16
	clientName             string
	features               protocol.Features
}

func decodeHandshake(p []byte) (handshakeInfo, error) {
	v, err := protocol.ViewHandshake(p)
	if err != nil {
		return handshakeInfo{}, err
	}
	name := v.ClientName()
	if len(name) > 256 {
		name = name[:256]
	}
	return handshakeInfo{minVersion: v.MinVersion(), maxVersion: v.MaxVersion(), clientName: string(name), features: v.Features()}, nil
}

type handshakeAck struct {
	sessionID      uint64
	transport      protocol.Transport
	txRing, rxRing uint64
	maxPayload     uint32
	maxInflight    uint32
	features       protocol.Features
}

func encodeHandshakeAck(dst []byte, a handshakeAck) []byte {
	return encodeMsg(dst, &protocol.HandshakeAck{
		Version:     protocol.ProtocolVersion,
		ServerName:  "ringwired/" + Version,
		SessionID:   a.sessionID,
		TxRingBytes: a.txRing,
		RxRingBytes: a.rxRing,
		Transport:   a.transport,
		MaxPayload:  a.maxPayload,
		MaxInflight: a.maxInflight,
		Features:    a.features,
	})
}
