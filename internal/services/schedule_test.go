package services

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// TestMissedRun: a schedule whose time came after the last run and by now
// was missed.
func TestMissedRun(t *testing.T) {
	daily, err := parseBackupSchedule("0 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := func(d, h, m int) time.Time { return time.Date(2025, 1, d, h, m, 0, 0, time.Local) }
	for _, c := range []struct {
		last, now time.Time
		want      bool
	}{
		{at(1, 3, 0), at(1, 12, 0), false}, // ran today, next is tomorrow
		{at(1, 3, 0), at(2, 2, 59), false},
		{at(1, 3, 0), at(2, 3, 0), true},
		{at(1, 3, 0), at(5, 9, 0), true}, // several missed: one run
		{at(1, 2, 0), at(1, 4, 0), true},
	} {
		if got := missedRun(daily, c.last, c.now); got != c.want {
			t.Errorf("last %v, now %v: missed = %v, want %v", c.last, c.now, got, c.want)
		}
	}
}

// TestMissedBackupRunsAtStart: on a fake clock, a schedule whose time came
// while the daemon was down runs once at start; one not yet due does not.
func TestMissedBackupRunsAtStart(t *testing.T) {
	tm := newTestManager(t)
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.Local)
	tm.now = func() time.Time { return clock }
	tm.create(t, "postgres", "db", "postgres:17")
	tm.create(t, "redis", "cache", "redis:7")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dbDir, cacheDir := filepath.Join(t.TempDir(), "db"), filepath.Join(t.TempDir(), "cache")
	// Both set at 03:04 on the 2nd; db daily at 04:00, cache daily at 03:00.
	if _, err := tm.serviceBackupSchedule(ctx, api.ServiceBackupSchedule{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, Schedule: "0 4 * * *", Dir: dbDir}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.serviceBackupSchedule(ctx, api.ServiceBackupSchedule{ServiceRef: api.ServiceRef{Kind: "redis", Name: "cache"}, Schedule: "0 3 * * *", Dir: cacheDir}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	files := func(dir string) int { e, _ := os.ReadDir(dir); return len(e) }
	// The daemon was down from 03:04 to 05:00: db's 04:00 was missed,
	// cache's next (03:00 on the 3rd) is still to come.
	clock = clock.Add(time.Hour + 56*time.Minute)
	tm.StartBackups(ctx)
	tm.RunMissedBackups()
	tm.StopBackups(ctx)
	if files(dbDir) != 1 || files(cacheDir) != 0 {
		t.Fatalf("after the start: %d db backups (want 1), %d cache backups (want 0)", files(dbDir), files(cacheDir))
	}
	// Run once: a second start with no schedule time since the run adds
	// nothing.
	tm.StartBackups(ctx)
	tm.RunMissedBackups()
	tm.StopBackups(ctx)
	if files(dbDir) != 1 {
		t.Errorf("after a second start: %d db backups, want 1", files(dbDir))
	}
}

// A scheduled backup that fails is told to Config.BackupFailed (the
// daemon's backup-failed notification).
func TestScheduledBackupFailureIsTold(t *testing.T) {
	tm := newTestManager(t)
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.Local)
	tm.now = func() time.Time { return clock }
	type told struct {
		kind, name string
		err        error
	}
	var got []told
	tm.backupFailed = func(kind, name string, err error) { got = append(got, told{kind, name, err}) }
	tm.create(t, "postgres", "db", "postgres:17")
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "db")
	if _, err := tm.serviceBackupSchedule(ctx, api.ServiceBackupSchedule{ServiceRef: api.ServiceRef{Kind: "postgres", Name: "db"}, Schedule: "0 4 * * *", Dir: dir}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	// The backup directory became a file: the 04:00 backup cannot be written.
	os.RemoveAll(dir)
	if err := os.WriteFile(dir, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Hour)
	tm.StartBackups(ctx)
	tm.RunMissedBackups()
	tm.StopBackups(ctx)
	if len(got) != 1 || got[0].kind != "postgres" || got[0].name != "db" || got[0].err == nil {
		t.Fatalf("told %+v", got)
	}
}
