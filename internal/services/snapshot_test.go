package services

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// scriptedExec answers the psql commands of a restore (the fake engine
// knows only pg_dump and pg_restore) and records every command; fail names
// a command prefix that exits 1.
type scriptedExec struct {
	Engine
	mu    sync.Mutex
	calls []string
	fail  string
}

func (s *scriptedExec) Exec(ctx context.Context, id string, opts docker.ExecOptions) (int, error) {
	cmd := strings.Join(opts.Cmd, " ")
	s.mu.Lock()
	s.calls = append(s.calls, cmd)
	fail := s.fail != "" && strings.Contains(cmd, s.fail)
	s.mu.Unlock()
	if fail {
		if opts.Stdin != nil {
			opts.Stdin.Read(make([]byte, 64))
		}
		opts.Stderr.Write([]byte("ERROR:  boom\n"))
		return 1, nil
	}
	if strings.HasPrefix(cmd, "psql ") {
		return 0, nil
	}
	return s.Engine.Exec(ctx, id, opts)
}

func (s *scriptedExec) ran(part string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if strings.Contains(c, part) {
			return true
		}
	}
	return false
}

func snapshotManager(t *testing.T) (*testManager, *scriptedExec) {
	tm := newTestManager(t)
	tm.create(t, "postgres", "shop-db", "postgres:17")
	tm.create(t, "redis", "cache", "redis:7")
	tm.createApp(t, "shop")
	for _, kind := range []string{"postgres", "redis"} {
		name := map[string]string{"postgres": "shop-db", "redis": "cache"}[kind]
		if _, err := link(tm, kind, name, "shop", nil); err != nil {
			t.Fatal(err)
		}
	}
	se := &scriptedExec{Engine: tm.eng}
	tm.connect = func(context.Context) (Engine, error) { return se, nil }
	return tm, se
}

// Snapshot dumps each linked Postgres database (Redis is not snapshotted)
// to a file under the service's snapshots directory; Remove deletes it.
func TestSnapshotFiles(t *testing.T) {
	tm, se := snapshotManager(t)
	snaps, err := tm.Snapshot(context.Background(), "shop", 4, &bytes.Buffer{})
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots = %+v, %v", snaps, err)
	}
	s := snaps[0]
	want := filepath.Join(tm.dataDir, "services", "postgres", "shop-db", "snapshots", "shop-v4-20250102T030405.dump")
	if s.File != want || s.Kind != "postgres" || s.Service != "shop-db" || s.Release != 4 {
		t.Errorf("snapshot = %+v, want file %s", s, want)
	}
	b, err := os.ReadFile(s.File)
	if err != nil || !strings.HasPrefix(string(b), "PGDMP") || s.Bytes != int64(len(b)) {
		t.Errorf("file = %q (%d bytes recorded), %v", b, s.Bytes, err)
	}
	if !se.ran("pg_dump -Fc -Z1 -U postgres shop_db") {
		t.Errorf("calls = %q", se.calls)
	}
	if err := tm.Remove(snaps); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.File); !os.IsNotExist(err) {
		t.Errorf("the file is still there: %v", err)
	}
	// A failed dump leaves no file and no snapshot.
	se.fail = "pg_dump"
	if snaps, err := tm.Snapshot(context.Background(), "shop", 5, &bytes.Buffer{}); err == nil || len(snaps) != 0 || !strings.Contains(err.Error(), "postgres shop-db: pg_dump failed (exit 1): ERROR:  boom") {
		t.Errorf("failed dump: %+v, %v", snaps, err)
	}
	if left, _ := os.ReadDir(filepath.Dir(want)); len(left) != 0 {
		t.Errorf("files left after a failed dump: %v", left)
	}
}

// A restore goes into a new database, then swaps the two by renaming once
// the old one refuses connections; a failure before the swap drops the new
// one and leaves the old one as it was.
func TestSnapshotRestore(t *testing.T) {
	tm, se := snapshotManager(t)
	snaps, err := tm.Snapshot(context.Background(), "shop", 1, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tm.Restore(context.Background(), snaps, &out); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !strings.HasPrefix(string(tm.eng.restored), "PGDMP dump of ") {
		t.Errorf("restored %q", tm.eng.restored)
	}
	order := []string{`CREATE DATABASE "shop_db_berth_restore" TEMPLATE template0`, "pg_restore -U postgres -d shop_db_berth_restore", `ALTER DATABASE "shop_db" ALLOW_CONNECTIONS false`,
		`ALTER DATABASE "shop_db" RENAME TO "shop_db_berth_old"; ALTER DATABASE "shop_db_berth_restore" RENAME TO "shop_db"`, `DROP DATABASE IF EXISTS "shop_db_berth_old"`}
	last := -1
	for _, want := range order {
		i := -1
		for j, c := range se.calls {
			if strings.Contains(c, want) && j >= last {
				i = j
				break
			}
		}
		if i < 0 {
			t.Fatalf("no %q in or after call %d in %q", want, last, se.calls)
		}
		last = i
	}
	if c := se.calls[len(se.calls)-1]; !strings.HasSuffix(c, `-c DROP DATABASE IF EXISTS "shop_db_berth_old"`) {
		t.Errorf("the last call does not drop the old database: %q", c)
	}
	if !strings.Contains(out.String(), "Restored postgres shop-db (database shop_db) as of 2025-01-02 03:04:05 UTC") {
		t.Errorf("output:\n%s", out.String())
	}

	if r := tm.restores(tm.serviceOf(t, "postgres", "shop-db")); len(r) != 1 || r[0].Via != "snapshot" || r[0].Source != snaps[0].File || !r[0].OK {
		t.Errorf("restores recorded = %+v", r)
	}

	// pg_restore fails: the new database goes, the old one is not touched.
	se.calls, se.fail = nil, "pg_restore"
	err = tm.Restore(context.Background(), snaps, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "the database was left as it was") {
		t.Errorf("err = %v", err)
	}
	if se.ran("ALLOW_CONNECTIONS false") || !se.ran(`DROP DATABASE IF EXISTS "shop_db_berth_restore"`) {
		t.Errorf("calls after a failed pg_restore = %q", se.calls)
	}

	// The swap fails: connections are allowed again, the new one goes.
	se.calls, se.fail = nil, "RENAME TO"
	err = tm.Restore(context.Background(), snaps, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "swap in the restored database") {
		t.Errorf("err = %v", err)
	}
	if !se.ran(`ALTER DATABASE "shop_db" ALLOW_CONNECTIONS true`) || !se.ran(`DROP DATABASE IF EXISTS "shop_db_berth_restore"`) {
		t.Errorf("calls after a failed swap = %q", se.calls)
	}

	// The file is gone: one clear error, nothing run.
	se.calls, se.fail = nil, ""
	os.Remove(snaps[0].File)
	if err := tm.Restore(context.Background(), snaps, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "the snapshot file is gone") || len(se.calls) != 0 {
		t.Errorf("err = %v, calls %q", err, se.calls)
	}
}

func (tm *testManager) serviceOf(t *testing.T, kind, name string) store.Service {
	t.Helper()
	_, svc, err := tm.loadService(context.Background(), api.ServiceRef{Kind: kind, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
