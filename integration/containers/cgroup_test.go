package containers

import (
	"os"
	"path/filepath"
	"testing"
)

// writeFiles writes name: content files into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCgroupMemoryV2 reads a cgroup v2 layout: the "0::" line of
// /proc/PID/cgroup, memory.current, memory.peak, memory.stat and
// memory.events (max, oom, oom_kill).
func TestCgroupMemoryV2(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"cgroup.controllers": "cpuset cpu io memory pids\n"})
	if !isCgroupV2(root) {
		t.Fatal("a root with cgroup.controllers is not taken for v2")
	}
	dir, err := memoryCgroupDir(root, "0::/system.slice/docker-abc.scope\n", true)
	if err != nil || dir != filepath.Join(root, "system.slice/docker-abc.scope") {
		t.Fatalf("memoryCgroupDir = %q, %v", dir, err)
	}
	writeFiles(t, dir, map[string]string{
		"memory.current": "1048576\n",
		"memory.peak":    "2097152\n",
		"memory.stat":    "anon 524288\nfile 4096\nshmem 8192\n",
		"memory.events":  "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n",
	})
	m, err := readCgroupMemory(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !m.cgroupV2 || m.current != 1<<20 || m.peak != 2<<20 || m.limitHits != 7 || m.ooms != 2 || m.oomKills != 1 ||
		m.stat["anon"] != 512<<10 || m.stat["file"] != 4096 || m.stat["shmem"] != 8192 {
		t.Fatalf("v2: %+v", m)
	}
	// memory.peak is new (Linux 5.19): without it the peak reads 0; without
	// memory.current the read fails.
	os.Remove(filepath.Join(dir, "memory.peak"))
	if m, err := readCgroupMemory(dir, true); err != nil || m.peak != 0 {
		t.Fatalf("without memory.peak: %+v, %v", m, err)
	}
	os.Remove(filepath.Join(dir, "memory.current"))
	if _, err := readCgroupMemory(dir, true); err == nil {
		t.Fatal("no error without memory.current")
	}
}

// TestCgroupMemoryV1 reads a cgroup v1 (or hybrid) layout: the memory
// controller's line of /proc/PID/cgroup, memory.usage_in_bytes,
// memory.max_usage_in_bytes, memory.failcnt, memory.stat (rss, cache) and
// memory.oom_control's oom_kill.
func TestCgroupMemoryV1(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "unified"), map[string]string{"cgroup.controllers": ""})
	if isCgroupV2(root) {
		t.Fatal("a hybrid root is taken for v2")
	}
	procCgroup := "12:pids:/docker/abc\n5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n"
	dir, err := memoryCgroupDir(root, procCgroup, false)
	if err != nil || dir != filepath.Join(root, "memory/docker/abc") {
		t.Fatalf("memoryCgroupDir = %q, %v", dir, err)
	}
	if _, err := memoryCgroupDir(root, "1:name=systemd:/x\n3:cpu:/x\n", false); err == nil {
		t.Fatal("found a memory cgroup where none is")
	}
	writeFiles(t, dir, map[string]string{
		"memory.usage_in_bytes":     "3145728\n",
		"memory.max_usage_in_bytes": "4194304\n",
		"memory.failcnt":            "3\n",
		"memory.stat":               "cache 4096\nrss 1048576\nshmem 4096\ntotal_rss 1048576\n",
		"memory.oom_control":        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
	})
	m, err := readCgroupMemory(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if m.cgroupV2 || m.current != 3<<20 || m.peak != 4<<20 || m.limitHits != 3 || m.oomKills != 1 || m.stat["rss"] != 1<<20 {
		t.Fatalf("v1: %+v", m)
	}
	if s := m.String(); s == "" {
		t.Fatal("empty String")
	}
}

// TestCgroupMemoryHost reads this test process's own memory cgroup with
// the host's real files, v1 or v2, whichever this host has.
func TestCgroupMemoryHost(t *testing.T) {
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no /proc/self/cgroup here (%v): not Linux", err)
	}
	v2 := isCgroupV2(cgroupFS)
	dir, err := memoryCgroupDir(cgroupFS, string(cg), v2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readCgroupMemory(dir, v2)
	if err != nil {
		// Inside a container whose cgroup namespace hides the path, or a
		// v1 host whose root cgroup has no usage files, the files may be
		// missing: say so rather than fail the suite on the host's layout.
		if os.IsNotExist(err) {
			t.Skipf("this process's memory cgroup %s has no usage files (%v)", dir, err)
		}
		t.Fatal(err)
	}
	if m.current == 0 {
		t.Fatalf("this process's memory cgroup %s reads 0 bytes in use: %v", dir, m)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m.rssAnon, m.vmRSS = procStatusMemory(string(status))
	if m.rssAnon == 0 || m.vmRSS < m.rssAnon {
		t.Fatalf("RssAnon %d, VmRSS %d", m.rssAnon, m.vmRSS)
	}
	t.Logf("this host: cgroup v2 %v; this test process's cgroup %s: %v", v2, dir, m)
}
