package protocol

import (
	"encoding/json"
	"testing"
)

func TestParseTransport(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Transport
		ok   bool
	}{
		{"shm", TransportShm, true},
		{" Socket ", TransportSocket, true},
		{"both", TransportUnspecified, false},
		{"", TransportUnspecified, false},
	} {
		got, err := ParseTransport(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseTransport(%q) = %v, %v", tc.in, got, err)
		}
	}
	b, err := json.Marshal(struct{ T Transport }{TransportSocket})
	if err != nil || string(b) != `{"T":"socket"}` {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	var v struct{ T Transport }
	if err := json.Unmarshal([]byte(`{"T":"shm"}`), &v); err != nil || v.T != TransportShm {
		t.Errorf("unmarshal: %v, %v", v.T, err)
	}
	if err := json.Unmarshal([]byte(`{"T":"pigeon"}`), &v); err == nil {
		t.Errorf("unmarshal of an unknown transport succeeded")
	}
}
