package soak

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ringwire/ringwire/daemon"
)

// WriteTable prints the phases, the per-session figure, the sustained
// run and the verdict with its reasons.
func WriteTable(w io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tat\tsessions\tgoroutines\tfds\tshm maps\tlive heap\theap free\tstacks\truntime meta\tRssAnon\tVmRSS\tsettled\t")
	for _, r := range rep.Readings {
		settle := ""
		if r.Settle > 0 {
			settle = fmt.Sprintf("%.1fs", r.Settle.Seconds())
		}
		live := mib(int64(r.Memory.HeapLiveBytes))
		if r.Memory.GCCycles == 0 {
			live = "no GC yet"
		}
		fmt.Fprintf(tw, "%s\t%.0fs\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Phase, r.At.Seconds(), r.Sessions, r.Goroutines,
			r.Memory.OpenFDs, r.Memory.SharedMappings, live, mib(int64(r.Memory.HeapFreeBytes)),
			mib(int64(r.Memory.StackBytes)), mib(int64(r.Memory.MetadataBytes)), mib(r.Proc.RssAnon), mib(r.Proc.VmRSS), settle)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "(sessions and goroutines include the monitor's own socket session; live heap is as of the daemon's last GC; heap free is freed heap the Go runtime still holds from the OS;\n runtime meta is the runtime's memory beside heap and stacks, sized by the peak and kept)")
	cfg := rep.Config
	if rep.PerSessionFromIdle != 0 {
		fmt.Fprintf(w, "\nRssAnon per idle shm session: %.1f KiB (from %d to %d sessions), %.1f KiB (from none to %d); the rings are shared memory (RssShmem), not in RssAnon\n",
			rep.PerSession/1024, cfg.Small, cfg.Sessions, rep.PerSessionFromIdle/1024, cfg.Sessions)
	}
	if l := rep.Load; l != nil {
		fmt.Fprintf(w, "sustained: mixed at %v/s over %d shm sessions for %v: %d requests (%.0f/s), %d errors by design, %d unexpected\n",
			cfg.Rate, cfg.Conns, cfg.Sustained, l.Sample.Completed, l.Sample.Throughput(), l.Sample.Errors, l.Unexpected)
		if b, n, ok := SlopeAfter(rep.Input.Sustained, cfg.Rules.Warmup, false); ok {
			a, _, _ := SlopeAfter(rep.Input.Sustained, cfg.Rules.Warmup, true)
			fmt.Fprintf(w, "slopes after the %v warm-up (%d samples, least squares): RssAnon %s/h, VmRSS %s/h\n", cfg.Rules.Warmup, n, signedMiB(a*3600), signedMiB(b*3600))
			lo, hi := spread(rep.Input.Sustained, cfg.Rules.Warmup)
			fmt.Fprintf(w, "RssAnon after the warm-up: %s to %s (a spread of %s); the bound: %s/h, %s over the window\n",
				mib(lo), mib(hi), signedMiB(float64(hi-lo)), mib(int64(cfg.Rules.SlopeBound*3600)),
				signedMiB(cfg.Rules.SlopeBound*(cfg.Sustained-cfg.Rules.Warmup).Seconds()))
		}
	}
	fmt.Fprintf(w, "idle releases (free heap returned to the OS %v after the last session left): %d\n", daemon.IdleReleaseDelay, rep.Released)
	returned := releaseDrops(rep.Readings)
	for _, d := range returned {
		fmt.Fprintf(w, "  %s: RssAnon %s before the release, %s after (%s)\n", d.phase, mib(d.before), mib(d.after), signedMiB(float64(d.after-d.before)))
	}
	fmt.Fprintln(w, "\nverdict:")
	for _, c := range rep.Checks {
		mark := "PASS"
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", mark, c.Name, c.Reason)
	}
	if Passed(rep.Checks) {
		fmt.Fprintln(w, "no leak: every level came back to idle, the live heap did not grow across cycles, RssAnon stayed flat under load")
		if rep.Released > 0 && len(returned) > 0 && returned[0].after < returned[0].before {
			fmt.Fprintln(w, "the memory held right after clients leave is freed memory the Go runtime keeps (dead goroutines' stacks, unswept and free heap),")
			fmt.Fprintln(w, "returned by the daemon's idle release: RssAnon falls to the same level after every cycle")
		}
	} else {
		fmt.Fprintln(w, "LEAK SUSPECTED: see the failing checks")
	}
	fmt.Fprintf(w, "took %.0fs\n", rep.Took.Seconds())
	return nil
}

// WriteBenchfmt writes a benchfmt line per reading
// (BenchmarkSoak/phase=cycle_1:_left ...) with its figures as units.
func WriteBenchfmt(w io.Writer, rep *Report) error {
	fmt.Fprintln(w, "goos: linux")
	fmt.Fprintln(w, "pkg: github.com/ringwire/ringwire/integration/cmd/ringwire-soak")
	for _, r := range rep.Readings {
		name := strings.NewReplacer(" ", "_", ":", "", ",", "").Replace(r.Phase)
		if _, err := fmt.Fprintf(w, "BenchmarkSoak/phase=%s 1 %d sessions %d goroutines %d fds %d shm-maps %d live-heap-B %d heap-free-B %d RssAnon-B %d VmRSS-B\n",
			name, r.Sessions, r.Goroutines, r.Memory.OpenFDs, r.Memory.SharedMappings, r.Memory.HeapLiveBytes, r.Memory.HeapFreeBytes, r.Proc.RssAnon, r.Proc.VmRSS); err != nil {
			return err
		}
	}
	if rep.PerSessionFromIdle != 0 {
		fmt.Fprintf(w, "BenchmarkSoak/per-session 1 %.0f RssAnon-B/session\n", rep.PerSession)
	}
	if a, _, ok := SlopeAfter(rep.Input.Sustained, rep.Config.Rules.Warmup, true); ok {
		fmt.Fprintf(w, "BenchmarkSoak/sustained 1 %.0f RssAnon-B/h\n", a*3600)
	}
	return nil
}

// spread is the least and the largest RssAnon at or after warmup.
func spread(ps []Point, warmup time.Duration) (lo, hi int64) {
	first := true
	for _, p := range ps {
		if p.At < warmup {
			continue
		}
		if first || p.RssAnon < lo {
			lo = p.RssAnon
		}
		if first || p.RssAnon > hi {
			hi = p.RssAnon
		}
		first = false
	}
	return lo, hi
}

type drop struct {
	phase         string
	before, after int64
}

// releaseDrops pairs each "X, before release" reading with the "X"
// reading after it.
func releaseDrops(rs []Reading) []drop {
	var ds []drop
	for i := 0; i+1 < len(rs); i++ {
		if p, ok := strings.CutSuffix(rs[i].Phase, ", before release"); ok && rs[i+1].Phase == p {
			ds = append(ds, drop{phase: p, before: rs[i].Proc.RssAnon, after: rs[i+1].Proc.RssAnon})
		}
	}
	return ds
}
