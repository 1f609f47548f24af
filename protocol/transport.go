package protocol

// Transport says what a connection runs over.
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

// StreamSuffix is appended to the daemon's socket path (the socket of the
// shared-memory transport) to form the path where the socket transport
// listens (SPEC.md §4.1, "Transports").
const StreamSuffix = ".stream"

// StreamPath returns the path of the socket transport's socket for a
// daemon whose shared-memory transport listens on socketPath.
func StreamPath(socketPath string) string { return socketPath + StreamSuffix }
