package load

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)
// needs cgo). It makes a server's CPU time per request exact only to
// 10 ms over the whole cell.
const clockTick = 10 * time.Millisecond

// ErrProcFormat is returned for a /proc file that does not read as
// expected.
var ErrProcFormat = errors.New("load: unexpected /proc format")

// SelfCPU returns the CPU time (user + system) this process has used,
// from getrusage(RUSAGE_SELF): every thread, microsecond resolution.
func SelfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("load: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// CPUTime is a reading of a process's CPU time two ways.
type CPUTime struct {
	// Stat is utime + stime from /proc/<pid>/stat, in steps of
	// clockTick (10 ms).
	Stat time.Duration
	// Sched is the sum over the process's threads of the time on a CPU
	// from /proc/<pid>/task/<tid>/schedstat, in ns; -1 when unknown.
	Sched time.Duration
}

// Sub returns the CPU time used from earlier to c: the threads'
// schedstat time when both readings have it and it did not go back (a
// thread that exited in between takes its time with it), else the
// stat's, to its 10 ms.
func (c CPUTime) Sub(earlier CPUTime) time.Duration {
	if c.Sched >= 0 && earlier.Sched >= 0 && c.Sched >= earlier.Sched {
		return c.Sched - earlier.Sched
	}
	return c.Stat - earlier.Stat
}

// ProcCPU reads the CPU time process pid has used.
func ProcCPU(pid int) (CPUTime, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return CPUTime{}, fmt.Errorf("load: %w", err)
	}
	st, err := parseStatCPU(b)
	if err != nil {
		return CPUTime{}, err
	}
	return CPUTime{Stat: st, Sched: schedCPU(pid)}, nil
}

// schedCPU sums the first field (ns on a CPU) of every thread's
// schedstat; -1 if one cannot be read.
func schedCPU(pid int) time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return -1
	}
	var sum time.Duration
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread exited meanwhile
			}
			return -1
		}
		v, err := parseSchedstat(b)
		if err != nil {
			return -1
		}
		sum += v
	}
	return sum
}

// parseSchedstat reads the first field of a schedstat file: "ns wait n".
func parseSchedstat(b []byte) (time.Duration, error) {
	f := bytes.Fields(b)
	if len(f) != 3 {
		return 0, fmt.Errorf("%w: schedstat %q", ErrProcFormat, b)
	}
	v, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%w: schedstat %q", ErrProcFormat, b)
	}
	return time.Duration(v), nil
}

// parseStatCPU reads utime and stime (fields 14 and 15) from the
// contents of a /proc/<pid>/stat file. The command name (field 2) is in
// parentheses and may hold spaces and parentheses itself, so the fields
// are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat without a command name", ErrProcFormat)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): utime is field 14, f[11].
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the name", ErrProcFormat, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("%w: stat time %q", ErrProcFormat, s)
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}

// Memory is a process's resident memory, from /proc/<pid>/status.
type Memory struct {
	RssAnon int64 // bytes: private anonymous pages resident (heap, stacks)
	VmRSS   int64 // bytes: everything resident, files and shared memory included
}

// ProcMemory reads RssAnon and VmRSS of process pid.
func ProcMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("load: %w", err)
	}
	return parseStatusMemory(b)
}

// parseStatusMemory reads the RssAnon and VmRSS lines ("VmRSS:   1234 kB")
// of a /proc/<pid>/status file.
func parseStatusMemory(b []byte) (Memory, error) {
	var m Memory
	var seen int
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "RssAnon":
			dst = &m.RssAnon
		case "VmRSS":
			dst = &m.VmRSS
		default:
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return Memory{}, fmt.Errorf("%w: status line %q", ErrProcFormat, line)
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || v < 0 {
			return Memory{}, fmt.Errorf("%w: status line %q", ErrProcFormat, line)
		}
		*dst = v << 10
		seen++
	}
	if seen != 2 {
		return Memory{}, fmt.Errorf("%w: status without RssAnon and VmRSS", ErrProcFormat)
	}
	return m, nil
}
