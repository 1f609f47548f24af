package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/protocol"
	"github.com/ringwire/ringwire/shmring"
)

// checkPeerUID fails the test unless err is the refusal of a daemon that
// runs as uid: ErrPeerUID (wrapping shmring's), saying so, not retryable.
func checkPeerUID(t *testing.T, what string, err error, uid int) {
	t.Helper()
	switch {
	case !errors.Is(err, ErrPeerUID) || !errors.Is(err, shmring.ErrPeerUID):
		t.Errorf("%s: %v, want ErrPeerUID wrapping shmring.ErrPeerUID", what, err)
	case errors.Is(err, ErrUnavailable) || IsRetryable(err):
		t.Errorf("%s: %v is retryable", what, err)
	case !strings.Contains(err.Error(), "daemon runs as another uid") || !strings.Contains(err.Error(), fmt.Sprint("uid ", uid)):
		t.Errorf("%s: %q does not say the daemon runs as uid %d", what, err, uid)
	}
}

// TestPeerUIDMapping checks, without a second user, how the client reports
// a listener of another uid: shmring's ErrPeerUID, from DialUnix (the
// socket transport, through the dialUnix seam) or Dial (shm), becomes
// ErrPeerUID, and Dial and a lazy client's calls return it as it is.
// TestPeerUID does the same against a real process of another uid.
func TestPeerUIDMapping(t *testing.T) {
	const uid = 4242
	var dialled []string
	foreign := func(o *options) {
		o.dialUnix = func(_ context.Context, path string, _ ...shmring.Option) (*net.UnixConn, shmring.PeerInfo, error) {
			dialled = append(dialled, path)
			return nil, shmring.PeerInfo{}, fmt.Errorf("%w: listener runs as uid %d", shmring.ErrPeerUID, uid)
		}
	}
	const path = "/run/ringwire-test/d.sock"
	_, err := Dial(context.Background(), path, WithTransport(protocol.TransportSocket), foreign, quiet)
	checkPeerUID(t, "Dial", err, uid)
	if len(dialled) != 1 || dialled[0] != protocol.StreamPath(path) {
		t.Errorf("dialled %q, want [%q]", dialled, protocol.StreamPath(path))
	}

	cl, err := Dial(context.Background(), path, WithTransport(protocol.TransportSocket), foreign, WithLazyDial(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Ping(context.Background())
	checkPeerUID(t, "lazy Ping", err, uid)
	cl.Close()

	// What shmring.Dial returns for the shared-memory transport.
	checkPeerUID(t, "setupErr", setupErr(fmt.Errorf("shmring: %w: listener runs as uid %d", shmring.ErrPeerUID, uid)), uid)
	if err := setupErr(errors.New("connection refused")); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrPeerUID) {
		t.Errorf("setupErr(other) = %v", err)
	}
}
