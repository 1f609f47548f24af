package load

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses: fields count from the
	// last ')'. utime 150, stime 50 ticks.
	stat := "4242 (ring (wired) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 50 0 0 20 0 7 0 100 1000000 500 18446744073709551615\n"
	d, err := parseStatCPU([]byte(stat))
	if err != nil || d != 2*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 2s", d, err)
	}
	for _, bad := range []string{"", "4242 no parens", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 5 0", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 5 0"} {
		if _, err := parseStatCPU([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("parseStatCPU(%q) = %v, want ErrProcFormat", bad, err)
		}
	}
}

func TestParseSchedstat(t *testing.T) {
	if d, err := parseSchedstat([]byte("123456789 5000 42\n")); err != nil || d != 123456789 {
		t.Errorf("parseSchedstat = %v, %v", d, err)
	}
	for _, bad := range []string{"", "1 2", "x 1 2", "-1 2 3"} {
		if _, err := parseSchedstat([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("parseSchedstat(%q) = %v", bad, err)
		}
	}
	// Sub prefers schedstat, unless a reading lacks it or it went back.
	a, b := CPUTime{Stat: 10 * time.Millisecond, Sched: 12345}, CPUTime{Stat: 30 * time.Millisecond, Sched: 22345}
	if d := b.Sub(a); d != 10000 {
		t.Errorf("Sub = %v", d)
	}
	for _, c := range []struct{ a, b CPUTime }{{a, CPUTime{Stat: 30 * time.Millisecond, Sched: -1}}, {a, CPUTime{Stat: 30 * time.Millisecond, Sched: 100}}} {
		if d := c.b.Sub(c.a); d != 20*time.Millisecond {
			t.Errorf("Sub(%+v, %+v) = %v, want the stat's 20ms", c.b, c.a, d)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tringwired\nVmPeak:\t  900000 kB\nVmRSS:\t   12000 kB\nRssAnon:\t    2000 kB\nRssFile:\t 9000 kB\n"
	m, err := parseStatusMemory([]byte(status))
	if err != nil || m.RssAnon != 2000<<10 || m.VmRSS != 12000<<10 {
		t.Fatalf("parseStatusMemory = %+v, %v", m, err)
	}
	for _, bad := range []string{"", "VmRSS:\t 12 kB\n", "VmRSS:\t 12 MB\nRssAnon:\t 1 kB\n", "VmRSS: x kB\nRssAnon: 1 kB\n"} {
		if _, err := parseStatusMemory([]byte(bad)); !errors.Is(err, ErrProcFormat) {
			t.Errorf("parseStatusMemory(%q) = %v, want ErrProcFormat", bad, err)
		}
	}
}

// spinCPU spins until this process has used d more CPU time (a busy
// machine gives it less than the wall time), for at most 20 s.
func spinCPU(t *testing.T, d time.Duration) {
	t.Helper()
	c0, err := SelfCPU()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		for end := time.Now().Add(time.Millisecond); time.Now().Before(end); {
		}
		if c, _ := SelfCPU(); c-c0 >= d {
			return
		}
	}
	t.Fatalf("did not get %v of CPU in 20 s", d)
}

func TestProcSelf(t *testing.T) {
	p0, err := ProcCPU(os.Getpid())
	// /proc/PID/stat counts in clock ticks (10 ms): a test process that
	// has run for less than a tick reads 0 there (schedstat counts ns).
	if err != nil || p0.Stat < 0 || p0.Sched <= 0 {
		t.Errorf("ProcCPU(self) = %+v, %v", p0, err)
	}
	spinCPU(t, 30*time.Millisecond) // by getrusage
	p1, _ := ProcCPU(os.Getpid())
	if d := p1.Sub(p0); d < 20*time.Millisecond || d > 10*time.Second {
		t.Errorf("ProcCPU grew by %v while getrusage grew by 30 ms (%+v, %+v)", d, p0, p1)
	}
	m, err := ProcMemory(os.Getpid())
	if err != nil || m.RssAnon <= 0 || m.VmRSS < m.RssAnon {
		t.Errorf("ProcMemory(self) = %+v, %v", m, err)
	}
	if _, err := ProcCPU(0); err == nil {
		t.Error("ProcCPU(0) succeeded")
	}
	if _, err := ProcMemory(-1); err == nil {
		t.Error("ProcMemory(-1) succeeded")
	}
}
