package daemon

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ringwire/ringwire/client"
	"github.com/ringwire/ringwire/protocol"
)

func TestCountShared(t *testing.T) {
	maps := `55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 1234   /usr/bin/ringwired
7f1c2a000000-7f1c2a100000 rw-s 00000000 00:01 4321   /memfd:ringwire (deleted)
7f1c2a100000-7f1c2a200000 r--s 00000000 00:01 4322   /memfd:ringwire (deleted)
7f1c2a200000-7f1c2a300000 rw-p 00000000 00:00 0
7ffd1a000000-7ffd1a021000 rw-p 00000000 00:00 0      [stack]
garbage
x rw-s
`
	n, err := countShared(strings.NewReader(maps))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // two memfd rings and the bare "x rw-s" line
		t.Fatalf("countShared = %d, want 3", n)
	}
	if n, err := countShared(strings.NewReader("")); n != 0 || err != nil {
		t.Fatalf("empty listing: %d, %v", n, err)
	}
}

func TestStatsMemory(t *testing.T) {
	srv := testServer(t, Config{})
	runtime.GC()
	before := srv.Stats().Memory
	if before.HeapLiveBytes == 0 || before.RuntimeTotalBytes == 0 || before.GCCycles == 0 ||
		before.MetadataBytes == 0 || before.MetadataBytes >= before.RuntimeTotalBytes || before.StackBytes == 0 {
		t.Fatalf("runtime figures missing: %+v", before)
	}
	if before.OpenFDs <= 0 || before.SharedMappings < 0 {
		t.Fatalf("/proc figures missing: %+v", before)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Stats().Memory.OpenFDs; got != before.OpenFDs+1 {
		t.Errorf("one more open file: OpenFDs %d, want %d", got, before.OpenFDs+1)
	}
	f.Close()

	// A shared-memory session maps its rings shared, here in the client
	// and in the server: 2 mappings more; they go when it closes. The
	// JSON answer carries the same figures.
	cl := dial(t, srv, client.WithTransport(protocol.TransportShm))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := cl.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Memory.SharedMappings < before.SharedMappings+2 {
		t.Errorf("with a shm session: %d shared mappings, idle %d: want 2 more", st.Memory.SharedMappings, before.SharedMappings)
	}
	if st.Memory.OpenFDs <= before.OpenFDs || st.Memory.HeapLiveBytes == 0 {
		t.Errorf("Stats JSON memory = %+v", st.Memory)
	}
	cl.Close()
	waitFor(t, func() bool {
		m := srv.Stats().Memory
		return m.SharedMappings == before.SharedMappings && m.OpenFDs == before.OpenFDs
	})
}

func TestIdleRelease(t *testing.T) {
	old := idleReleaseDelay
	idleReleaseDelay = 20 * time.Millisecond
	t.Cleanup(func() { idleReleaseDelay = old })
	srv := testServer(t, Config{})
	if n := srv.Stats().Memory.IdleReleases; n != 0 {
		t.Fatalf("released %d times before any session", n)
	}
	for i, tr := range transports {
		cl := dial(t, srv, client.WithTransport(tr))
		gc := srv.Stats().Memory.GCCycles
		time.Sleep(5 * idleReleaseDelay)
		if n := srv.Stats().Memory.IdleReleases; n != uint64(i) {
			t.Fatalf("%v: %d releases with a session open, want %d", tr, n, i)
		}
		want := uint64(i + 1)
		cl.Close()
		waitFor(t, func() bool { return srv.Stats().Memory.IdleReleases == want })
		if m := srv.Stats().Memory; m.GCCycles <= gc {
			t.Errorf("%v: the release ran no GC: cycles %d, before %d", tr, m.GCCycles, gc)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
