package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

// fakeSnapshots is a Snapshotter that copies one database, "db", per
// snapshot.
type fakeSnapshots struct {
	mu         sync.Mutex
	taken      []int // release numbers snapshotted
	restored   [][]store.ReleaseSnapshot
	removed    []string
	snapErr    error
	restoreErr error
	none       bool // the app has no linked database
}

func (f *fakeSnapshots) Snapshot(_ context.Context, app string, release int, out io.Writer) ([]store.ReleaseSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snapErr != nil {
		return nil, f.snapErr
	}
	if f.none {
		return nil, nil
	}
	f.taken = append(f.taken, release)
	return []store.ReleaseSnapshot{{Kind: "postgres", Service: "db", File: fmt.Sprintf("/snap/%s-v%d", app, release), Bytes: 3 << 20, Took: 1200 * time.Millisecond, CreatedAt: time.Now()}}, nil
}

func (f *fakeSnapshots) Restore(_ context.Context, snaps []store.ReleaseSnapshot, out io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restored = append(f.restored, snaps)
	return f.restoreErr
}

func (f *fakeSnapshots) Remove(snaps []store.ReleaseSnapshot) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range snaps {
		f.removed = append(f.removed, s.File)
	}
	return nil
}

func snapshotHarness(t *testing.T) (*harness, *fakeSnapshots) {
	h := newHarness(t)
	f := &fakeSnapshots{}
	h.d.snapshots = f
	return h, f
}

func (h *harness) snapshots() map[int][]store.ReleaseSnapshot {
	h.t.Helper()
	s, err := h.d.Snapshots(context.Background(), "shop")
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// A release with a predeploy snapshots the linked databases first and
// records the copies with the release; the deploy log says how large and
// how long.
func TestSnapshotBeforePredeploy(t *testing.T) {
	h, f := snapshotHarness(t)
	h.mustDeploy("Procfile", procfile, "app.json", predeployJSON)
	if !slices.Equal(f.taken, []int{1}) {
		t.Fatalf("snapshots taken for %v, want [1]", f.taken)
	}
	out := h.out.String()
	i, j := strings.Index(out, "-----> Snapshot of postgres db before the predeploy: 3.0 MB in 1.20s"), strings.Index(out, "Executing predeploy task")
	if i < 0 || j < 0 || i > j {
		t.Errorf("output lacks the snapshot line before the predeploy:\n%s", out)
	}
	if s := h.snapshots()[1]; len(s) != 1 || s[0].File != "/snap/shop-v1" || s[0].Bytes != 3<<20 || s[0].Release != 1 {
		t.Errorf("recorded = %+v", s)
	}
	// A release command snapshots too.
	h.mustDeploy("Procfile", procfile+"release: /bin/release\n")
	if !slices.Equal(f.taken, []int{1, 2}) || !strings.Contains(h.out.String(), "before the release command") {
		t.Errorf("snapshots taken for %v:\n%s", f.taken, h.out)
	}
}

// Without a predeploy or release command, or with snapshots-keep 0, there
// is no snapshot and no snapshot step.
func TestSnapshotOnlyBeforeMigrations(t *testing.T) {
	h, f := snapshotHarness(t)
	h.mustDeploy(twoTypes...)
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "releases", "snapshots-keep", "0") })
	h.mustDeploy("Procfile", procfile, "app.json", predeployJSON)
	if len(f.taken) != 0 {
		t.Errorf("snapshots taken for %v", f.taken)
	}
	for _, r := range h.releases() {
		for _, s := range r.Steps {
			if s.Step == "snapshot" && r.Number == 1 {
				t.Errorf("release 1 ran a snapshot step: %+v", r.Steps)
			}
		}
	}
}

// A snapshot that fails stops the deploy before the predeploy runs.
func TestSnapshotFails(t *testing.T) {
	h, f := snapshotHarness(t)
	h.mustDeploy(twoTypes...)
	f.snapErr = errors.New("postgres db: Postgres service db is not running")
	_, err := h.deploy("Procfile", procfile, "app.json", predeployJSON)
	se := stepError(t, err, "snapshot")
	if !strings.Contains(se.Error(), "snapshot the linked databases before the predeploy: postgres db: Postgres service db is not running (nothing ran; releases:set shop snapshots-keep 0") {
		t.Errorf("err = %v", err)
	}
	if strings.Contains(h.out.String(), "Executing predeploy") {
		t.Errorf("the predeploy ran:\n%s", h.out)
	}
}

// A failed predeploy (or release command) restores the snapshot it took;
// the release's error says so.
func TestSnapshotRestoredAfterFailure(t *testing.T) {
	for _, tc := range []struct {
		step  string
		files []string
		exit  string
	}{
		{"predeploy", []string{"Procfile", procfile, "app.json", predeployJSON}, "./migrate"},
		{"release-command", []string{"Procfile", procfile + "release: /bin/release\n"}, "/bin/release"},
	} {
		t.Run(tc.step, func(t *testing.T) {
			h, f := snapshotHarness(t)
			h.mustDeploy(twoTypes...)
			h.eng.exit = map[string]int{tc.exit: 3}
			_, err := h.deploy(tc.files...)
			stepError(t, err, tc.step)
			if len(f.restored) != 1 || len(f.restored[0]) != 1 || f.restored[0][0].File != "/snap/shop-v2" {
				t.Fatalf("restored = %+v", f.restored)
			}
			for _, want := range []string{"-----> The " + tc.step + " failed: restoring the linked databases from the snapshot taken before it", "-----> Databases restored to the snapshot; the running release keeps serving"} {
				if !strings.Contains(h.out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, h.out)
				}
			}
			if rels := h.releases(); rels[0].Status != store.ReleaseFailed || !strings.HasSuffix(rels[0].Error, "(databases restored from the snapshot taken before it)") || rels[1].Status != store.ReleaseLive {
				t.Errorf("releases = %s %q, %s", rels[0].Status, rels[0].Error, rels[1].Status)
			}
		})
	}
}

// A restore that fails says so and keeps the snapshot.
func TestSnapshotRestoreFails(t *testing.T) {
	h, f := snapshotHarness(t)
	h.mustDeploy(twoTypes...)
	f.restoreErr = errors.New("postgres db: pg_restore failed (exit 1): boom; the database was left as it was")
	h.eng.exit = map[string]int{"./migrate": 3}
	_, err := h.deploy("Procfile", procfile, "app.json", predeployJSON)
	stepError(t, err, "predeploy")
	if !strings.Contains(h.out.String(), " !     Restoring the snapshot failed: postgres db: pg_restore failed") || !strings.Contains(h.out.String(), "the snapshot is kept with release 2") {
		t.Errorf("output:\n%s", h.out)
	}
	if len(h.snapshots()[2]) != 1 || len(f.removed) != 0 {
		t.Errorf("the snapshot was not kept: %+v, removed %v", h.snapshots(), f.removed)
	}
	if rels := h.releases(); !strings.Contains(rels[0].Error, "(restoring the snapshot failed: postgres db: pg_restore failed") {
		t.Errorf("release error = %q", rels[0].Error)
	}
}

// The snapshots of the newest snapshots-keep releases are kept; older
// ones' files and records go.
func TestSnapshotPrune(t *testing.T) {
	h, f := snapshotHarness(t)
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetProperty(a.Scope(), "releases", "snapshots-keep", "2") })
	for range 4 {
		h.mustDeploy("Procfile", procfile, "app.json", predeployJSON)
	}
	s := h.snapshots()
	if len(s) != 2 || s[3] == nil || s[4] == nil {
		t.Errorf("kept = %v", s)
	}
	if !slices.Equal(f.removed, []string{"/snap/shop-v1", "/snap/shop-v2"}) {
		t.Errorf("removed = %v", f.removed)
	}
}

func TestSnapshotsBeyond(t *testing.T) {
	all := []store.ReleaseSnapshot{{ID: 1, Release: 1}, {ID: 2, Release: 1}, {ID: 3, Release: 4}, {ID: 4, Release: 7}}
	ids := func(s []store.ReleaseSnapshot) (out []int64) {
		for _, x := range s {
			out = append(out, x.ID)
		}
		return out
	}
	for keep, want := range map[int][]int64{0: {1, 2, 3, 4}, 1: {1, 2, 3}, 2: {1, 2}, 3: nil, 9: nil} {
		if got := ids(snapshotsBeyond(all, keep)); !slices.Equal(got, want) {
			t.Errorf("keep %d: gone %v, want %v", keep, got, want)
		}
	}
}

// releases:rollback --with-data restores the snapshot taken before the
// first release after the target that took one, then starts the target's
// code; without such a snapshot it changes nothing.
func TestRollbackWithData(t *testing.T) {
	h, f := snapshotHarness(t)
	ctx := context.Background()
	h.mustDeploy(twoTypes...)                                     // 1: no migration
	h.mustDeploy("Procfile", procfile, "app.json", predeployJSON) // 2: snapshot
	h.mustDeploy("Procfile", procfile+"release: /bin/release\n")  // 3: snapshot
	p, err := h.d.PlanDataRollback(ctx, "shop", 1)
	if err != nil || p.Target != 1 || p.Live != 3 || p.From != 2 || len(p.Snapshots) != 1 || p.Snapshots[0].File != "/snap/shop-v2" {
		t.Fatalf("plan = %+v, %v", p, err)
	}
	if p, err := h.d.PlanDataRollback(ctx, "shop", 0); err != nil || p.Target != 2 || p.From != 3 {
		t.Errorf("plan of the previous release = %+v, %v", p, err)
	}
	// The confirmed snapshot is no longer the one: nothing changes.
	if _, err := h.d.RollbackWithData(ctx, "shop", 1, 3, h.out, "test"); err == nil || !strings.Contains(err.Error(), "now the one of release 2, not 3") {
		t.Errorf("err = %v", err)
	}
	if len(f.restored) != 0 || len(h.releases()) != 3 {
		t.Fatalf("a refused rollback changed something: restored %v, %d releases", f.restored, len(h.releases()))
	}
	h.out.Reset()
	rel, err := h.d.RollbackWithData(ctx, "shop", 1, 2, h.out, "test")
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, h.out)
	}
	if rel.Number != 4 || rel.RollbackOf != 1 || len(f.restored) != 1 || f.restored[0][0].File != "/snap/shop-v2" {
		t.Errorf("release %d of %d, restored %v", rel.Number, rel.RollbackOf, f.restored)
	}
	out := h.out.String()
	if i, j := strings.Index(out, "Restoring the databases as they were before release 2"), strings.Index(out, "Starting web.1"); i < 0 || j < 0 || i > j {
		t.Errorf("the data was not restored before the containers started:\n%s", out)
	}
	// Release 4 took none, so rolling back to 3 has nothing to restore.
	_, err = h.d.RollbackWithData(ctx, "shop", 3, 0, h.out, "test")
	if err == nil || err.Error() != "No snapshot to restore: no release after 3 took one (snapshots are taken before the predeploy or release command of an app linked to Postgres); nothing changed" {
		t.Errorf("err = %v", err)
	}
	// A failed restore fails the rollback before anything started.
	f.restoreErr = errors.New("postgres db: the snapshot file is gone")
	_, err = h.d.RollbackWithData(ctx, "shop", 1, 0, h.out, "test")
	stepError(t, err, "restore-data")
	if rels := h.releases(); rels[1].Number != 4 || rels[1].Status != store.ReleaseLive {
		t.Errorf("after a failed restore: release %d is %s", rels[1].Number, rels[1].Status)
	}
}

// apps:destroy removes the files of the app's snapshots.
func TestDropSnapshots(t *testing.T) {
	h, f := snapshotHarness(t)
	h.mustDeploy("Procfile", procfile, "app.json", predeployJSON)
	h.mustDeploy("Procfile", procfile, "app.json", predeployJSON)
	h.d.DropSnapshots(context.Background(), "shop")
	slices.Sort(f.removed)
	if !slices.Equal(f.removed, []string{"/snap/shop-v1", "/snap/shop-v2"}) {
		t.Errorf("removed = %v", f.removed)
	}
}
