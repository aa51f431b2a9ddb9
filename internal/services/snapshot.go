package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// Snapshots before migrations (the deployer's Snapshotter; see
// docs/data-safety.md). A snapshot of a Postgres database is pg_dump's
// custom format at compression level 1, run in the service's container and
// streamed to a file under DATA/services/postgres/NAME/snapshots/: a live
// database has sessions (the app's containers), which CREATE DATABASE ...
// TEMPLATE refuses, and level 1 halves the file for about the time of no
// compression (bench/snapshots). A restore goes into a new database first,
// then swaps the two by renaming once the old one's sessions are ended: the
// database is replaced at once or, when anything fails, left as it was.
// Redis services are not snapshotted.

// snapshotSuffixes name the databases of a restore in progress: the new one
// being filled, the old one once swapped out.
const (
	restoreSuffix = "_berth_restore"
	oldSuffix     = "_berth_old"
)

// snapshotDir is where a service's snapshots are kept.
func (m *Manager) snapshotDir(svc store.Service) string {
	return filepath.Join(m.serviceRoot(svc.Kind, svc.Name), "snapshots")
}

// Snapshot copies each Postgres database linked to appName before
// release's predeploy or release command. A service that is not running
// fails it: the migration would run against a database Berth cannot copy.
func (m *Manager) Snapshot(ctx context.Context, appName string, release int, out io.Writer) ([]store.ReleaseSnapshot, error) {
	var links []store.Link
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		links, err = tx.AppLinks(a)
		return err
	})
	if err != nil {
		return nil, err
	}
	var snaps []store.ReleaseSnapshot
	for _, l := range links {
		if l.Service.Kind != "postgres" {
			continue
		}
		s, err := m.snapshotOne(ctx, appName, release, l.Service)
		if err != nil {
			m.Remove(snaps)
			return nil, fmt.Errorf("%s %s: %w", l.Service.Kind, l.Service.Name, err)
		}
		snaps = append(snaps, s)
	}
	return snaps, nil
}

func (m *Manager) snapshotOne(ctx context.Context, appName string, release int, svc store.Service) (store.ReleaseSnapshot, error) {
	defer m.lock(svc.Kind, svc.Name)()
	eng, err := m.engine(ctx)
	if err != nil {
		return store.ReleaseSnapshot{}, err
	}
	id, err := m.runningService(ctx, eng, svc)
	if err != nil {
		return store.ReleaseSnapshot{}, err
	}
	dir := m.snapshotDir(svc)
	if err := mkdirMode(dir, 0o700); err != nil {
		return store.ReleaseSnapshot{}, err
	}
	t0 := m.now()
	name := fmt.Sprintf("%s-v%d-%s.dump", appName, release, t0.UTC().Format("20060102T150405"))
	f, err := os.CreateTemp(dir, ".snapshot-*")
	if err != nil {
		return store.ReleaseSnapshot{}, err
	}
	defer os.Remove(f.Name())
	var stderr headBuffer
	cmd := []string{"pg_dump", "-Fc", "-Z1", "-U", "postgres", dbName(svc.Name)}
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: cmd, Stdout: f, Stderr: &stderr})
	if err == nil && code != 0 {
		err = toolError("pg_dump", code, stderr.String())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.ReleaseSnapshot{}, err
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(f.Name(), path); err != nil {
		return store.ReleaseSnapshot{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return store.ReleaseSnapshot{}, err
	}
	took := m.now().Sub(t0)
	m.log.Info("snapshot taken", "kind", svc.Kind, "name", svc.Name, "app", appName, "release", release, "bytes", st.Size(), "took", took.Round(time.Millisecond))
	return store.ReleaseSnapshot{Release: release, Kind: svc.Kind, Service: svc.Name, File: path, Bytes: st.Size(), Took: took, CreatedAt: t0}, nil
}

// Restore puts each snapshot's database back, one after the other; each
// is replaced whole or left as it was.
func (m *Manager) Restore(ctx context.Context, snaps []store.ReleaseSnapshot, out io.Writer) error {
	for _, s := range snaps {
		if err := m.restoreOne(ctx, s, out); err != nil {
			return fmt.Errorf("%s %s: %w", s.Kind, s.Service, err)
		}
	}
	return nil
}

func (m *Manager) restoreOne(ctx context.Context, snap store.ReleaseSnapshot, out io.Writer) error {
	if snap.Kind != "postgres" {
		return fmt.Errorf("%s snapshots cannot be restored", snap.Kind)
	}
	sk, svc, err := m.loadService(ctx, api.ServiceRef{Kind: snap.Kind, Name: snap.Service})
	if err != nil {
		return err
	}
	f, err := os.Open(snap.File)
	if err != nil {
		return fmt.Errorf("the snapshot file is gone: %w", err)
	}
	defer f.Close()
	defer m.lock(svc.Kind, svc.Name)()
	err = m.restoreSwap(ctx, sk, svc, snap, f, out)
	m.recordRestore(svc, "snapshot", snap.File, err)
	return err
}

// restoreSwap restores the dump f into a new database, then swaps it in
// for the service's (see the top of the file). The caller holds the
// service's lock.
func (m *Manager) restoreSwap(ctx context.Context, sk serviceKind, svc store.Service, snap store.ReleaseSnapshot, f io.Reader, out io.Writer) error {
	eng, err := m.engine(ctx)
	if err != nil {
		return err
	}
	id, err := m.runningService(ctx, eng, svc)
	if err != nil {
		return err
	}
	t0 := m.now()
	db := dbName(svc.Name)
	tmp, old := db+restoreSuffix, db+oldSuffix
	psql := func(cmds ...string) error {
		args := []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", maintenanceDB(db)}
		for _, c := range cmds {
			args = append(args, "-c", c)
		}
		var stderr headBuffer
		code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: args, Env: sk.execEnv(svc), Stdout: io.Discard, Stderr: &stderr})
		if err == nil && code != 0 {
			err = toolError("psql", code, stderr.String())
		}
		return err
	}
	fmt.Fprintf(out, "       Restoring %s %s into a new database from %s\n", svc.Kind, svc.Name, filepath.Base(snap.File))
	if err := psql(`DROP DATABASE IF EXISTS `+ident(tmp), `CREATE DATABASE `+ident(tmp)+` TEMPLATE template0`); err != nil {
		return err
	}
	dropTmp := func() {
		if err := psql(`DROP DATABASE IF EXISTS ` + ident(tmp)); err != nil {
			m.log.Warn("drop the database of a failed restore", "kind", svc.Kind, "name", svc.Name, "err", err)
		}
	}
	var stderr headBuffer
	cmd := []string{"pg_restore", "-U", "postgres", "-d", tmp, "--no-owner", "--no-acl", "--single-transaction", "--exit-on-error"}
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: cmd, Env: sk.execEnv(svc), Stdin: f, Stdout: io.Discard, Stderr: &stderr})
	if err == nil && code != 0 {
		err = toolError("pg_restore", code, stderr.String())
	}
	if err != nil {
		dropTmp()
		return fmt.Errorf("%w; the database was left as it was", err)
	}
	// The swap: no new sessions, the current ones ended, then both
	// renames in one transaction.
	err = psql(`ALTER DATABASE `+ident(db)+` ALLOW_CONNECTIONS false`,
		`DO $$ BEGIN
			FOR i IN 1..100 LOOP
				PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = `+literal(db)+` AND pid <> pg_backend_pid();
				EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = `+literal(db)+` AND pid <> pg_backend_pid());
				PERFORM pg_sleep(0.05);
			END LOOP;
		END $$`,
		`DROP DATABASE IF EXISTS `+ident(old),
		`BEGIN; ALTER DATABASE `+ident(db)+` RENAME TO `+ident(old)+`; ALTER DATABASE `+ident(tmp)+` RENAME TO `+ident(db)+`; COMMIT`)
	if err != nil {
		if uerr := psql(`ALTER DATABASE ` + ident(db) + ` ALLOW_CONNECTIONS true`); uerr != nil {
			m.log.Error("allow connections again after a failed restore", "kind", svc.Kind, "name", svc.Name, "err", uerr)
		}
		dropTmp()
		return fmt.Errorf("swap in the restored database: %w; the database was left as it was", err)
	}
	if err := psql(`DROP DATABASE IF EXISTS ` + ident(old)); err != nil {
		m.log.Warn("drop the database a restore replaced", "kind", svc.Kind, "name", svc.Name, "db", old, "err", err)
	}
	took := m.now().Sub(t0)
	m.log.Info("snapshot restored", "kind", svc.Kind, "name", svc.Name, "file", snap.File, "took", took.Round(time.Millisecond))
	fmt.Fprintf(out, "       Restored %s %s (database %s) as of %s in %.2fs\n", svc.Kind, svc.Name, db, snap.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), took.Seconds())
	return nil
}

// Remove deletes the snapshots' files (a file already gone is no error).
func (m *Manager) Remove(snaps []store.ReleaseSnapshot) error {
	var errs []error
	for _, s := range snaps {
		if err := os.Remove(s.File); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// maintenanceDB is the database the restore's commands connect to: not
// the one being replaced.
func maintenanceDB(db string) string {
	if db == "postgres" {
		return "template1"
	}
	return "postgres"
}

// ident quotes a Postgres identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// literal quotes a Postgres string literal.
func literal(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
