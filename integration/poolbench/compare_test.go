package poolbench_test

import (
	"strings"
	"testing"

	"github.com/ringwire/ringwire/integration/poolbench"
)

func TestCompare(t *testing.T) {
	fast := func() []float64 { return []float64{50, 51, 49, 52, 50, 48, 51, 50, 49, 50} }
	slow := func() []float64 { return []float64{80, 81, 79, 82, 80, 78, 81, 80, 79, 80} }
	tests := []struct {
		name             string
		ringwire, puddle []float64
		slower           bool
		says             string
	}{
		{"ringwire slower", slow(), fast(), true, "significantly slower"},
		{"ringwire faster", fast(), slow(), false, "significantly faster"},
		{"same", fast(), fast(), false, "no significant difference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := poolbench.Compare(tt.ringwire, tt.puddle)
			if v.Slower != tt.slower {
				t.Errorf("Slower = %v, want %v: %v", v.Slower, tt.slower, v)
			}
			if !strings.Contains(v.String(), tt.says) {
				t.Errorf("String() = %q, want it to say %q", v, tt.says)
			}
		})
	}
	if v := poolbench.Compare(fast(), []float64{0, 0, 0}); v.Ratio != 0 {
		t.Errorf("Ratio against a zero median = %v, want 0", v.Ratio)
	}
}
