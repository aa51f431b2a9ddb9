package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// openAt opens the database at file and closes it when the test ends.
func openAt(t *testing.T, file string) *Store {
	t.Helper()
	s, err := Open(context.Background(), file)
	if err != nil {
		t.Fatalf("Open(%s): %v", file, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTest opens a fresh database in a temporary directory.
func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "berth.db")
	return openAt(t, file), file
}

// mustTx runs fn in a transaction and fails the test on error.
func mustTx(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Tx(context.Background(), fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

// migrationCount counts the migration files in the source tree, independently
// of the embedded copy the store reads.
func migrationCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no migrations found")
	}
	return n
}

func schemaRows(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.db.Query("SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestOpenFresh(t *testing.T) {
	t.Parallel()
	s, file := openTest(t)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
	ctx := context.Background()
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t); v != want {
		t.Errorf("SchemaVersion = %d, want %d (one per migration file)", v, want)
	}
	rows := schemaRows(t, s)
	for i, v := range rows {
		if v != i+1 {
			t.Errorf("schema_migrations versions = %v, want 1..n once each", rows)
			break
		}
	}
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := s.CheckIntegrity(ctx); err != nil {
		t.Errorf("CheckIntegrity: %v", err)
	}
	// The tables the store uses exist and start empty.
	mustTx(t, s, func(tx *Tx) error {
		apps, err := tx.Apps()
		if err != nil || len(apps) != 0 {
			t.Errorf("Apps on a fresh database = %v, %v", apps, err)
		}
		vars, err := tx.Config(Global)
		if err != nil || len(vars) != 0 {
			t.Errorf("Config(Global) on a fresh database = %v, %v", vars, err)
		}
		return nil
	})
}

func TestReopenIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "berth.db")
	s, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	mustTx(t, s, func(tx *Tx) error {
		a, err := tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		return tx.SetConfig(a.Scope(), map[string]string{"K": "v"})
	})
	first := schemaRows(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s, err = Open(ctx, file)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if got := schemaRows(t, s); len(got) != len(first) {
			t.Errorf("after reopen schema_migrations = %v, want %v (no migration applied twice)", got, first)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != migrationCount(t) {
			t.Errorf("SchemaVersion after reopen = %d, %v", v, err)
		}
		mustTx(t, s, func(tx *Tx) error {
			a, err := tx.App("shop")
			if err != nil {
				return err
			}
			vars, err := tx.Config(a.Scope())
			if err != nil {
				return err
			}
			if vars["K"] != "v" {
				t.Errorf("config after reopen = %v", vars)
			}
			return nil
		})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenNewerDatabaseRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "berth.db")
	s, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2, err := Open(ctx, file)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a database from a newer berth succeeded")
	}
	msg := err.Error()
	for _, want := range []string{"999", "newer berth", file} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	// The refusal changed nothing: the newer berth can still use it.
	raw := openRaw(t, file)
	var n int
	if err := raw.QueryRow("SELECT COUNT(*) FROM schema_migrations WHERE version = 999").Scan(&n); err != nil || n != 1 {
		t.Errorf("future migration row after refusal: count %d, %v", n, err)
	}
}

// openRaw opens file with the driver directly (a plain path, not a URI),
// without migrating.
func openRaw(t *testing.T, file string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenPathNeedingEscapes(t *testing.T) {
	t.Parallel()
	// Characters with a meaning in a SQLite URI ('?', '#', '%') or a URL.
	for _, name := range []string{"with space", "hash#x", "pct%41x", "q?x", "amp&x=y", "colon:x"} {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "berth.db")
		s := openAt(t, file)
		mustTx(t, s, func(tx *Tx) error {
			_, err := tx.CreateApp("shop", fixedNow)
			return err
		})
		if _, err := os.Stat(file); err != nil {
			t.Errorf("Open(%q) did not create that file: %v", file, err)
		}
		// Nothing was created next to the directory instead.
		entries, _ := os.ReadDir(filepath.Dir(dir))
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("Open(%q) created %q next to the directory", file, names)
		}
	}
}

// TestOpenRelativePath opens a relative path (relative to the test's working
// directory, so no chdir is needed) with a character needing an escape.
func TestOpenRelativePath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "rel#dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, filepath.Join(dir, "berth.db"))
	if err != nil || filepath.IsAbs(rel) {
		t.Skipf("no relative path to the temp dir: %q, %v", rel, err)
	}
	s := openAt(t, rel)
	if err := s.CheckIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "berth.db")); err != nil {
		t.Errorf("Open(%q) did not create that file: %v", rel, err)
	}
}

func TestOpenBadPath(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "missing-dir", "berth.db")
	s, err := Open(context.Background(), file)
	if err == nil {
		s.Close()
		t.Fatal("Open in a missing directory succeeded")
	}
	if !strings.Contains(err.Error(), file) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestTxCommitsOnNil(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		_, err := tx.CreateApp("shop", fixedNow)
		return err
	})
	mustTx(t, s, func(tx *Tx) error {
		_, err := tx.App("shop")
		return err
	})
}

func TestTxRollsBackOnError(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	boom := errors.New("boom")
	err := s.Tx(context.Background(), func(tx *Tx) error {
		a, err := tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		if err := tx.SetConfig(Global, map[string]string{"G": "1"}); err != nil {
			return err
		}
		if err := tx.SetConfig(a.Scope(), map[string]string{"K": "1"}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Tx returned %v, want the function's own error", err)
	}
	assertEmpty(t, s)
}

func TestTxRollsBackOnPanic(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the original panic value", p)
			}
		}()
		s.Tx(context.Background(), func(tx *Tx) error {
			if _, err := tx.CreateApp("shop", fixedNow); err != nil {
				t.Error(err)
			}
			if err := tx.SetConfig(Global, map[string]string{"G": "1"}); err != nil {
				t.Error(err)
			}
			panic("boom")
		})
		t.Error("Tx did not re-panic")
	}()
	// The single connection was released and the writes are gone.
	assertEmpty(t, s)
}

// TestTxRollsBackOnGoexit: a function that ends its goroutine with
// runtime.Goexit (as t.FailNow does) must not leave the transaction open and
// the store's single connection taken.
func TestTxRollsBackOnGoexit(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Tx(context.Background(), func(tx *Tx) error {
			if _, err := tx.CreateApp("shop", fixedNow); err != nil {
				t.Error(err)
			}
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.App("shop"); !errors.Is(err, ErrAppNotFound) {
			t.Errorf("App(shop) after Goexit = %v, want ErrAppNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Tx after a Goexit in another Tx: %v", err)
	}
}

func TestTxCanceledContext(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := s.Tx(ctx, func(tx *Tx) error {
		called = true
		return nil
	})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Tx with a canceled context = %v, want context.Canceled", err)
	}
	if called {
		t.Error("Tx ran its function with a canceled context")
	}
	assertEmpty(t, s) // and the store still works
}

// assertEmpty checks that no app, config or property exists.
func assertEmpty(t *testing.T, s *Store) {
	t.Helper()
	mustTx(t, s, func(tx *Tx) error {
		if _, err := tx.App("shop"); !errors.Is(err, ErrAppNotFound) {
			t.Errorf("App(shop) = %v, want ErrAppNotFound (rolled back)", err)
		}
		for _, table := range []string{"apps", "config", "properties"} {
			var n int
			if err := tx.tx.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("%s has %d rows after rollback", table, n)
			}
		}
		return nil
	})
}

func TestCheckIntegrity(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		for _, n := range []string{"a", "b", "c"} {
			a, err := tx.CreateApp(n, fixedNow)
			if err != nil {
				return err
			}
			if err := tx.SetConfig(a.Scope(), map[string]string{"K": strings.Repeat(n, 10000)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.CheckIntegrity(context.Background()); err != nil {
		t.Errorf("CheckIntegrity = %v", err)
	}
}
