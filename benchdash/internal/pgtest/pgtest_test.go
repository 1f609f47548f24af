package pgtest

import (
	"database/sql"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestDSN(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two DSN calls gave the same database %s", a)
	}
	for _, dsn := range []string{a, b} {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TABLE x (v int)`); err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		var user string
		if err := db.QueryRow(`SELECT current_user`).Scan(&user); err != nil || user != "postgres" {
			t.Fatalf("current_user = %q, %v", user, err)
		}
	}
}

func TestOwnServer(t *testing.T) {
	bin, err := BinDir()
	if err != nil {
		unavailable(t, err)
	}
	s, err := Start(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := s.dir
	db, err := sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("server directory %s left after Stop: %v", dir, err)
	}
	db, _ = sql.Open("pgx", s.URL("postgres"))
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

// Without Main, DSN starts a server for the test alone and stops it when
// the test ends.
func TestDSNWithoutMain(t *testing.T) {
	mu.Lock()
	inMain = false
	mu.Unlock()
	defer func() {
		mu.Lock()
		inMain = true
		mu.Unlock()
	}()
	var dsn string
	t.Run("own", func(t *testing.T) {
		dsn = DSN(t)
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
	})
	db, _ := sql.Open("pgx", dsn)
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Fatal("the test's own server still answers after the test")
	}
}

func TestBinDir(t *testing.T) {
	t.Setenv("PGTEST_BIN", t.TempDir())
	if _, err := BinDir(); err == nil || !strings.Contains(err.Error(), "no initdb") {
		t.Errorf("BinDir with an empty PGTEST_BIN: %v", err)
	}
	if v := pgVersion("/usr/lib/postgresql/15/bin"); v != 15 {
		t.Errorf("pgVersion = %d", v)
	}
}
