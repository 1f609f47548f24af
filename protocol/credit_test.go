package protocol

import (
	"errors"
	"testing"
)

func TestCredit(t *testing.T) {
	for _, n := range []uint32{0, 1, 8, StreamWindow, MaxStreamWindow, 1<<32 - 1} {
		p := AppendCredit(nil, n)
		if len(p) != CreditSize {
			t.Fatalf("AppendCredit(%d): %d bytes", n, len(p))
		}
		got, err := ParseCredit(p)
		if err != nil || got != n {
			t.Fatalf("ParseCredit(AppendCredit(%d)) = %d, %v", n, got, err)
		}
	}
	if p := AppendCredit([]byte{9}, 0x01020304); string(p) != "\x09\x04\x03\x02\x01" {
		t.Fatalf("AppendCredit appends little-endian: % x", p)
	}
	for _, p := range [][]byte{nil, {1}, {1, 2, 3}, {1, 2, 3, 4, 5}} {
		if _, err := ParseCredit(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCredit(% x): %v, want ErrMalformed", p, err)
		}
	}
}

func TestReservedTypes(t *testing.T) {
	for typ, want := range map[MsgType]string{MsgStats: "Stats", MsgCredit: "Credit", 0xFFF2: "App(0xfff2)"} {
		if got := typ.String(); got != want {
			t.Errorf("%#x.String() = %q, want %q", uint16(typ), got, want)
		}
		if !typ.IsApplication() || typ.IsKnown() || typ < MsgReservedMin {
			t.Errorf("%v: in the application range, reserved, not a protocol type", typ)
		}
	}
	// Reserved types follow the general rules, like any application type.
	if err := ValidateRules(Frame{Type: MsgCredit, Flags: FlagRequest, ID: 3}); err != nil {
		t.Error(err)
	}
}

func TestStreamPath(t *testing.T) {
	if got := StreamPath("/run/ringwire/ringwired.sock"); got != "/run/ringwire/ringwired.sock"+StreamSuffix || StreamSuffix != ".stream" {
		t.Errorf("StreamPath = %q", got)
	}
	if ProtocolVersion != 1 || Version != 1 {
		t.Errorf("versions: protocol %d, header %d", ProtocolVersion, Version)
	}
}

func FuzzParseCredit(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendCredit(nil, 8))
	f.Add([]byte{1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, p []byte) {
		n, err := ParseCredit(p)
		if (err == nil) != (len(p) == CreditSize) {
			t.Fatalf("ParseCredit(% x): %v", p, err)
		}
		if err == nil && string(AppendCredit(nil, n)) != string(p) {
			t.Fatalf("round trip of % x gave %d", p, n)
		}
	})
}
