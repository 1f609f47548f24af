package protocol

import (
	"fmt"
	"strings"
)

// Transport says what a connection runs over. It is the one transport type
// of every ringwire module: the Handshake carries it, the client's
// WithTransport takes it, the daemon serves a set of them. Its text form
// ("shm", "socket") is what flags, logs and JSON use.
type Transport uint8

// Transports.
const (
	TransportUnspecified Transport = 0
	TransportShm         Transport = 1 // shared-memory rings
	TransportSocket      Transport = 2 // frames over the Unix socket itself
)

// String returns "shm", "socket", "unspecified" or "Transport(n)".
func (t Transport) String() string {
	return enumName(uint8(t), []string{"unspecified", "shm", "socket"}, "Transport")
}

// ParseTransport parses "shm" or "socket" (case and surrounding spaces
// ignored).
func ParseTransport(s string) (Transport, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "shm":
		return TransportShm, nil
	case "socket":
		return TransportSocket, nil
	}
	return TransportUnspecified, fmt.Errorf("protocol: unknown transport %q (want shm or socket)", s)
}

// MarshalText returns the transport's name, as String does.
func (t Transport) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses a name, as ParseTransport does.
func (t *Transport) UnmarshalText(b []byte) error {
	v, err := ParseTransport(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// StreamSuffix is appended to the daemon's socket path (the socket of the
// shared-memory transport) to form the path where the socket transport
// listens (SPEC.md §4.1, "Transports").
const StreamSuffix = ".stream"

// StreamPath returns the path of the socket transport's socket for a
// daemon whose shared-memory transport listens on socketPath.
func StreamPath(socketPath string) string { return socketPath + StreamSuffix }
