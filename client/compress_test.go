package client

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ringwire/ringwire/client/internal/fakedaemon"
	"github.com/ringwire/ringwire/protocol"
)

func TestCompression(t *testing.T) {
	big := bytes.Repeat([]byte("func (c *conn) readOne(ctx context.Context) error {}\n"), 2000)
	for _, tc := range []struct {
		name           string
		daemon, client bool
	}{{"both", true, true}, {"daemon off", false, true}, {"client off", true, false}} {
		for _, tr := range testTransports() {
			t.Run(tc.name+"/"+tr.String(), func(t *testing.T) {
				d := fakedaemon.New(t, false)
				d.SetZstd(tc.daemon)
				threshold := 0
				if tc.client {
					threshold = 64
				}
				cl := dialFake(t, d, WithTransport(tr), WithCompression(threshold))
				ctx := context.Background()
				for _, p := range [][]byte{nil, []byte("small"), big} {
					_, got, err := cl.Call(ctx, fakedaemon.MsgEcho, p)
					if err != nil || !bytes.Equal(got, p) {
						t.Fatalf("echo %d bytes: %d bytes, %v", len(p), len(got), err)
					}
				}
				words := strings.Repeat(strings.Repeat("x", 200)+" ", 40)
				var n int
				for _, err := range cl.CompleteStream(ctx, &protocol.CompletionRequest{Messages: []protocol.ChatMessage{{Content: words}}}) {
					if err != nil {
						t.Fatal(err)
					}
					n++
				}
				if n != 41 {
					t.Fatalf("%d chunks", n)
				}
				// An answer that cannot be decompressed fails its call; the
				// connection goes on. Without the feature it is a protocol
				// violation that ends the connection.
				_, _, err := cl.Call(ctx, fakedaemon.MsgBadZ, nil)
				granted := tc.daemon && tc.client
				switch {
				case granted && !errors.Is(err, protocol.ErrMalformed):
					t.Fatalf("bad compressed answer: %v", err)
				case !granted && !errors.Is(err, ErrConnLost) && !errors.Is(err, ErrProtocol):
					t.Fatalf("compressed answer without the feature: %v", err)
				}
				if _, err := cl.Ping(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestCompressionDefaults(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want int
	}{
		{[]Option{WithTransport(protocol.TransportShm)}, defaultCompressShm},
		{[]Option{WithTransport(protocol.TransportSocket)}, defaultCompressSocket},
		{[]Option{WithCompression(100)}, 100},
		{[]Option{WithCompression(-5)}, 0},
	} {
		o := defaultOptions()
		for _, opt := range tc.opts {
			opt(&o)
		}
		if got := o.compressThreshold(); got != tc.want {
			t.Errorf("threshold %d, want %d", got, tc.want)
		}
	}
}
