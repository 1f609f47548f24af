// Package pgtest runs a throwaway PostgreSQL server for tests.
//
// DSN(t) returns the address of a fresh, empty database, dropped when t
// ends. The databases live on one server per test binary, started on first
// use in a temporary directory on a free loopback port, with fsync off: a
// test package that calls DSN should stop it at exit with Main (or Run):
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without Main, each DSN call starts a server of its own and stops it when t
// ends (slower: initdb takes about a second).
//
// The server binaries are looked up in $PGTEST_BIN, then the newest
// /usr/lib/postgresql/*/bin, then $PATH. Without them DSN skips t, saying
// how to install them (apt-get install postgresql), or fails it when
// RINGWIRE_REQUIRE_ALL is set, as CI sets it. PostgreSQL refuses to run as
// root: as root, initdb and postgres run as the postgres system user, which
// must exist (the postgresql package creates it), with the directory
// chowned to it. The server is started with a parent-death signal, so it
// stops even when the test binary is killed.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
	log  string
	n    atomic.Int64
}

var (
	mu      sync.Mutex
	shared  *Server
	sharedE error
	inMain  bool
)

// Main runs the tests of m with a shared server (started when a test first
// asks for one) and stops it before exiting with m's code.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain that checks more after the
// tests (goleak, say): it runs m with a shared server, stops the server and
// returns m's code.
func Run(m *testing.M) int {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	if shared != nil {
		shared.Stop()
		shared = nil
	}
	inMain = false
	mu.Unlock()
	return code
}

// DSN returns the postgres:// URL of a new empty database, dropped when t
// ends, or skips (fails with RINGWIRE_REQUIRE_ALL set) t when PostgreSQL is
// not installed.
func DSN(t testing.TB) string {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		unavailable(t, err)
	}
	var srv *Server
	mu.Lock()
	if inMain {
		if shared == nil && sharedE == nil {
			shared, sharedE = Start(bin)
		}
		srv, err = shared, sharedE
	} else {
		srv, err = Start(bin)
		if err == nil {
			t.Cleanup(srv.Stop)
		}
	}
	mu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	dsn, drop, err := srv.CreateDB(context.Background())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return dsn
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("PostgreSQL server binaries not found (%v): install them with `apt-get install postgresql` (or set PGTEST_BIN to the directory holding initdb and postgres)", err)
	if os.Getenv("RINGWIRE_REQUIRE_ALL") != "" {
		t.Fatalf("RINGWIRE_REQUIRE_ALL is set and %s", msg)
	}
	t.Skip(msg)
}

// BinDir returns the directory of the PostgreSQL server binaries (initdb,
// postgres).
func BinDir() (string, error) {
	ok := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("PGTEST_BIN"); d != "" {
		if ok(d) {
			return d, nil
		}
		return "", fmt.Errorf("PGTEST_BIN=%s has no initdb and postgres", d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if ok(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no initdb in $PGTEST_BIN, /usr/lib/postgresql/*/bin or $PATH")
}

func pgVersion(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// credential returns who the server runs as: nil (the current user) unless
// the current user is root, then the postgres system user.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses root: need the postgres system user (apt-get install postgresql creates it): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres user: uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// Start initialises a cluster in a new temporary directory and starts a
// server on a free loopback port, with the binaries in bin.
func Start(bin string) (*Server, error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are private to root, and the server may
	// run as another user.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, log: filepath.Join(dir, "server.log")}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	// The port is free when asked and taken by the server a moment later;
	// another process may win it in between, so try a few.
	for attempt := 0; ; attempt++ {
		err := s.start(bin, data, cred)
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			return fail(err)
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start(bin, data string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=64MB")
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGINT is the fast shutdown: the server stops if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.port, s.cmd, s.done = port, cmd, done
	db, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		s.Stop()
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("postgres exited at start: %s", s.tail())
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("postgres did not answer within 30 s: %v: %s", err, s.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port returns the server's loopback TCP port.
func (s *Server) Port() int { return s.port }

// URL returns the postgres:// URL of database db on the server.
func (s *Server) URL(db string) string { return s.url(db) }

// CreateDB creates a new empty database and returns its URL and a function
// that drops it.
func (s *Server) CreateDB(ctx context.Context) (dsn string, drop func() error, err error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.n.Add(1))
	admin, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	drop = func() error {
		defer admin.Close()
		// WITH (FORCE) ends the sessions a test left open.
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping database %s: %w", name, err)
		}
		return nil
	}
	return s.url(name), drop, nil
}

func (s *Server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// Stop shuts the server down (fast shutdown, then SIGKILL after 10 s) and
// removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
	os.RemoveAll(s.dir)
}
