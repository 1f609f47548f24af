package integration

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ringwire/ringwire/integration/internal/realstack"
)

// TestGRPCStreamStress: gRPC bidirectional streams over shmring between
// two processes, with random pauses on both sides (so both ends of the
// connection keep going from spinning to parked and back), two streams
// at once on one connection (HTTP/2 multiplexing: concurrent Writes on the
// shmring.Conn). Every message must come back once, in order, with its
// payload intact; the server checks the same on its side. RINGWIRE_STRESS=1
// sends 100k messages per stream; by default 3000, a few seconds under
// -race.
func TestGRPCStreamStress(t *testing.T) {
	n := uint64(3000)
	if os.Getenv("RINGWIRE_STRESS") != "" {
		n = 100_000
	}
	// Pauses of up to 2 ms after one message in 50 on the server, 1 in 40
	// on the client: long enough to park, often enough to do it thousands
	// of times.
	s := startRealServer(t, realstack.GRPC, realstack.Shm, realPauseEnv+"=50,2ms")
	cc, err := realstack.NewGRPCClient(s.dialer(t, realstack.Shm))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const streams = 2
	type result struct {
		res realstack.StressResult
		err error
	}
	results := make(chan result, streams)
	start := time.Now()
	for range streams {
		go func() {
			res, err := realstack.RunStress(ctx, cc, n, realstack.Pauses{Every: 40, Max: 2 * time.Millisecond})
			results <- result{res, err}
		}()
	}
	for range streams {
		r := <-results
		if r.err != nil {
			t.Errorf("stream: %v (sent %d, received %d of %d)", r.err, r.res.Sent, r.res.Received, n)
		} else if r.res.Received != n {
			t.Errorf("stream: received %d of %d", r.res.Received, n)
		}
	}
	t.Logf("%d streams × %d messages in %v", streams, n, time.Since(start).Round(time.Millisecond))
}
