// Package store keeps Berth's state in an embedded SQLite database: numbered
// migrations, one transaction helper, and domain errors at its boundary.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Domain errors returned by the store.
var (
	ErrAppNotFound = errors.New("app not found")
	ErrAppExists   = errors.New("app already exists")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is the handle on the database. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	file string
}

// Open opens (creating if needed) the database at path and applies pending
// migrations.
//
// The pool holds a single connection: every transaction is serialized in
// the process, so there is no SQLITE_BUSY between Berth's own requests and
// no write can interleave with a read-modify-write. Berth's transactions are
// short; this is simpler and safer than tuning busy timeouts.
func Open(ctx context.Context, file string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(ON)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", sqliteURI(file)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, file: file}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database %s: %w", file, err)
	}
	return s, nil
}

// sqliteURI returns file as an SQLite "file:" URI, escaping the characters
// a URI gives a meaning to ('%', '?', '#'), so that any path opens that very
// file rather than a truncated or percent-decoded one.
func sqliteURI(file string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(file)
	if strings.HasPrefix(p, "/") {
		p = "//" + p // an empty authority: file:///abs/path
	}
	return "file:" + p
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// CheckIntegrity runs SQLite's integrity check and returns an error unless
// the database is intact.
func (s *Store) CheckIntegrity(ctx context.Context) error {
	var res string
	if err := s.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("database integrity check failed: %s", res)
	}
	return nil
}

// Migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion returns the number of the last applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	current, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > len(ms) {
		return fmt.Errorf("the database is at schema version %d but this berth knows only %d: it was written by a newer berth", current, len(ms))
	}
	for _, m := range ms[current:] {
		err := s.Tx(ctx, func(tx *Tx) error {
			if _, err := tx.tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			_, err := tx.tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, time.Now().Unix())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Tx is one database transaction; its methods are the store's operations.
type Tx struct {
	ctx context.Context
	tx  *sql.Tx
}

// Tx runs fn in a transaction, committing if fn returns nil and rolling back
// otherwise. fn must not call back into the Store.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	defer func() { err = s.diskFull(err) }()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	// Rolls back on an error, a panic (which goes on) and a runtime.Goexit
	// (t.FailNow) alike, which would otherwise keep the pool's only
	// connection forever; after a Commit it does nothing.
	defer sqlTx.Rollback()
	if err := fn(&Tx{ctx: ctx, tx: sqlTx}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, query, args...)
}
