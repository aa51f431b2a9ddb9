package cron

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/store"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, time.Local)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseAndDue(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"@nonstandard", "0 5 * * * *", "61 * * * *", "", "* * * *"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	cases := []struct {
		spec       string
		last, now  string
		due        bool
		nextAfter  string
		wantedNext string
	}{
		{"* * * * *", "2026-01-01 10:00:00", "2026-01-01 10:00:30", false, "2026-01-01 10:00:00", "2026-01-01 10:01:00"},
		{"* * * * *", "2026-01-01 10:00:30", "2026-01-01 10:01:00", true, "2026-01-01 10:00:30", "2026-01-01 10:01:00"},
		{"@daily", "2026-01-01 23:59:00", "2026-01-02 00:00:10", true, "2026-01-01 12:00:00", "2026-01-02 00:00:00"},
		{"@hourly", "2026-01-01 10:00:00", "2026-01-01 10:59:59", false, "2026-01-01 10:00:00", "2026-01-01 11:00:00"},
		{"5 5 5 5 5", "2026-01-01 00:00:00", "2026-01-02 00:00:00", false, "2026-01-01 00:00:00", "2026-05-01 05:05:00"}, // day 5 or a Friday, as cron reads it
		{"*/15 9-17 * * mon-fri", "2026-01-02 17:44:00", "2026-01-02 17:45:00", true, "2026-01-02 17:45:00", "2026-01-05 09:00:00"},
		{"@every 2s", "2026-01-01 10:00:00", "2026-01-01 10:00:01", false, "2026-01-01 10:00:00", "2026-01-01 10:00:02"},
	}
	for _, c := range cases {
		s, err := Parse(c.spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.spec, err)
		}
		if got := Due(s, at(c.last), at(c.now)); got != c.due {
			t.Errorf("Due(%q, %s, %s) = %v", c.spec, c.last, c.now, got)
		}
		if got := s.Next(at(c.nextAfter)); !got.Equal(at(c.wantedNext)) {
			t.Errorf("%q: Next(%s) = %s, want %s", c.spec, c.nextAfter, got, c.wantedNext)
		}
	}
}

func TestTasks(t *testing.T) {
	t.Parallel()
	entries := []appfile.Cron{
		{Command: "python3 task.py first", Schedule: "5 5 5 5 5"},
		{Command: "python3 task.py second", Schedule: "@daily", ConcurrencyPolicy: "forbid"},
	}
	id0 := ID("shop", entries[0].Command, entries[0].Schedule)
	tasks, err := Tasks("shop", entries, false, map[string]string{MaintenancePrefix + id0: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || tasks[0].ID != id0 || !tasks[0].TaskInMaintenance || !tasks[0].Maintenance || tasks[0].ConcurrencyPolicy != PolicyAllow {
		t.Fatalf("tasks[0] = %+v", tasks[0])
	}
	if tasks[1].Maintenance || tasks[1].ConcurrencyPolicy != PolicyForbid {
		t.Fatalf("tasks[1] = %+v", tasks[1])
	}
	// Renaming the app changes the IDs, as in Dokku.
	renamed, _ := Tasks("shop2", entries, true, nil)
	if renamed[0].ID == id0 || !renamed[0].AppInMaintenance || !renamed[1].Maintenance {
		t.Fatalf("renamed = %+v", renamed)
	}
}

// fakeSource serves entries per app.
type fakeSource struct {
	mu      sync.Mutex
	entries map[string][]appfile.Cron
	calls   map[string]int // Entries calls per app
}

func (f *fakeSource) Entries(_ context.Context, app string) ([]appfile.Cron, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[app]++
	e, ok := f.entries[app]
	return e, ok, nil
}

func (f *fakeSource) set(app string, e []appfile.Cron) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries[app] = e
}

// fakeRunner records jobs; a command "fail" exits 3, "boom" cannot start.
type fakeRunner struct {
	mu      sync.Mutex
	runs    []string // app:taskID
	ttls    []int64  // each job's TTLSeconds, in order
	running map[string][]string
	stopped []string
	done    chan struct{}
}

func (f *fakeRunner) Run(_ context.Context, app string, job Job, out io.Writer) (int, error) {
	f.mu.Lock()
	f.runs = append(f.runs, app+":"+job.TaskID)
	f.ttls = append(f.ttls, job.TTLSeconds)
	f.mu.Unlock()
	defer func() {
		if f.done != nil {
			f.done <- struct{}{}
		}
	}()
	switch job.Cmd[0] {
	case "fail":
		fmt.Fprintln(out, "it went wrong")
		return 3, nil
	case "boom":
		return 0, errors.New("exec: \"boom\": executable file not found")
	}
	fmt.Fprintln(out, strings.Join(job.Cmd, " "))
	return 0, nil
}

func (f *fakeRunner) Start(_ context.Context, app string, job Job) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ttls = append(f.ttls, job.TTLSeconds)
	return app + ".run.1", nil
}

func (f *fakeRunner) Running(_ context.Context, app, id string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[id], nil
}

func (f *fakeRunner) Stop(_ context.Context, ids []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, ids...)
	return nil
}

func newManager(t *testing.T) (*Manager, *fakeSource, *fakeRunner, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src := &fakeSource{entries: map[string][]appfile.Cron{}}
	run := &fakeRunner{running: map[string][]string{}}
	m := New(Config{Store: st, Source: src, Runner: run, Dir: filepath.Join(dir, "cron")})
	return m, src, run, st
}

func createApp(t *testing.T, st *store.Store, name string) store.App {
	t.Helper()
	var a store.App
	if err := st.Tx(context.Background(), func(tx *store.Tx) (err error) { a, err = tx.CreateApp(name, time.Now()); return err }); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestTickRunsDueTasksAndKeepsTheirOutput: a tick runs what is due (not
// what is suspended or not yet due), and the run's output and exit are
// kept; a failure is kept as one.
func TestTickRunsDueTasksAndKeepsTheirOutput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, src, run, st := newManager(t)
	createApp(t, st, "shop")
	src.set("shop", []appfile.Cron{
		{Command: "echo every minute", Schedule: "* * * * *"},
		{Command: "fail now", Schedule: "* * * * *"},
		{Command: "echo daily", Schedule: "@daily"},
		{Command: "echo suspended", Schedule: "* * * * *"},
	})
	tasks, _ := m.List(ctx, "shop")
	if err := m.Set(ctx, "shop", false, MaintenancePrefix+tasks[3].ID, "true", false); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx, at("2026-01-01 10:00:30"), at("2026-01-01 10:01:00"))
	m.wg.Wait()
	if len(run.runs) != 2 {
		t.Fatalf("runs = %v, want the two due, unsuspended tasks", run.runs)
	}
	rec, ok := m.LastRun(ctx, "shop", tasks[0].ID)
	if !ok || rec.Output != "echo every minute\n" || rec.Failed() || !rec.Scheduled {
		t.Fatalf("record of the first task = %+v, %v", rec, ok)
	}
	rec, ok = m.LastRun(ctx, "shop", tasks[1].ID)
	if !ok || rec.ExitCode != 3 || !rec.Failed() || rec.Output != "it went wrong\n" {
		t.Fatalf("record of the failing task = %+v, %v", rec, ok)
	}
	if _, ok := m.LastRun(ctx, "shop", tasks[2].ID); ok {
		t.Fatal("a task that was not due has a run")
	}

	// App-wide maintenance (global) stops everything.
	if err := m.Set(ctx, "", true, "maintenance", "true", false); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx, at("2026-01-01 10:01:00"), at("2026-01-01 10:02:00"))
	m.wg.Wait()
	if len(run.runs) != 2 {
		t.Fatalf("runs in maintenance: %v", run.runs)
	}
}

// TestSchedulesFollowDeploysAndDestroys: the tasks are read at each tick,
// so a deploy's new entries run, and a destroyed app's records go.
func TestSchedulesFollowDeploysAndDestroys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, src, run, st := newManager(t)
	a := createApp(t, st, "shop")
	src.set("shop", []appfile.Cron{{Command: "echo old", Schedule: "* * * * *"}})
	m.Tick(ctx, at("2026-01-01 10:00:30"), at("2026-01-01 10:01:00"))
	m.wg.Wait()
	old := ID("shop", "echo old", "* * * * *")
	src.set("shop", []appfile.Cron{{Command: "echo new", Schedule: "* * * * *"}})
	m.Tick(ctx, at("2026-01-01 10:01:00"), at("2026-01-01 10:02:00"))
	m.wg.Wait()
	neu := ID("shop", "echo new", "* * * * *")
	if want := []string{"shop:" + old, "shop:" + neu}; fmt.Sprint(run.runs) != fmt.Sprint(want) {
		t.Fatalf("runs = %v, want %v", run.runs, want)
	}
	if _, ok := m.records.read(a.ID, old); ok {
		t.Fatal("the record of a task the app no longer has is kept")
	}
	if err := st.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteApp(a) }); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx, at("2026-01-01 10:02:00"), at("2026-01-01 10:03:00"))
	m.wg.Wait()
	if len(run.runs) != 2 {
		t.Fatalf("a destroyed app's task ran: %v", run.runs)
	}
	if _, ok := m.records.read(a.ID, neu); ok {
		t.Fatal("a destroyed app's records are kept")
	}
}

// TestRunTaskPolicies: cron:run by ID, forbid with a run in progress, replace.
func TestRunTaskPolicies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, src, run, st := newManager(t)
	createApp(t, st, "shop")
	src.set("shop", []appfile.Cron{
		{Command: "sleep 30", Schedule: "0 0 * * *", ConcurrencyPolicy: "forbid"},
		{Command: "sleep 31", Schedule: "0 0 * * *", ConcurrencyPolicy: "replace"},
		{Command: "boom", Schedule: "0 0 * * *"},
	})
	tasks, _ := m.List(ctx, "shop")
	var out strings.Builder
	if code, _, err := m.RunTask(ctx, "shop", tasks[0].ID, false, 0, &out); err != nil || code != 0 || out.String() != "sleep 30\n" {
		t.Fatalf("run = %d, %v, %q", code, err, out.String())
	}
	// A run under way in this daemon, its container not running yet, holds
	// forbid's lock too.
	_, release, err := m.prepare(ctx, tasks[0], 1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.RunTask(ctx, "shop", tasks[0].ID, false, 0, io.Discard); !errors.Is(err, app.ErrConflict) {
		t.Fatalf("forbid with a run being started: %v", err)
	}
	release()
	run.running[tasks[0].ID] = []string{"c1"}
	_, _, err = m.RunTask(ctx, "shop", tasks[0].ID, false, 0, io.Discard)
	if !errors.Is(err, app.ErrConflict) || !strings.Contains(err.Error(), "currently has a cron lock in place for "+tasks[0].ID) {
		t.Fatalf("forbid with a run in progress: %v", err)
	}
	run.running[tasks[1].ID] = []string{"c2"}
	if _, _, err := m.RunTask(ctx, "shop", tasks[1].ID, false, 0, io.Discard); err != nil || fmt.Sprint(run.stopped) != "[c2]" {
		t.Fatalf("replace: %v, stopped %v", err, run.stopped)
	}
	if _, _, err := m.RunTask(ctx, "shop", "nope", false, 0, io.Discard); err == nil || !strings.Contains(err.Error(), "No matching Cron ID found") {
		t.Fatalf("unknown ID: %v", err)
	}
	if _, _, err := m.RunTask(ctx, "shop", tasks[0].ID, true, -1, io.Discard); err == nil || !strings.Contains(err.Error(), "--ttl-seconds must be a positive integer") {
		t.Fatalf("negative ttl: %v", err)
	}
	if _, _, err := m.RunTask(ctx, "gone", "x", false, 0, io.Discard); !errors.Is(err, store.ErrAppNotFound) {
		t.Fatalf("missing app: %v", err)
	}
	if _, _, err := m.RunTask(ctx, "shop", tasks[2].ID, false, 0, io.Discard); err == nil {
		t.Fatal("a run that could not start succeeded")
	}
	if rec, ok := m.LastRun(ctx, "shop", tasks[2].ID); !ok || !rec.Failed() || rec.Error == "" {
		t.Fatalf("a run that could not start is not kept as failed: %+v", rec)
	}
}

// TestSetAndReport: Dokku's properties, scopes and computed values.
func TestSetAndReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, src, _, st := newManager(t)
	createApp(t, st, "shop")
	src.set("shop", []appfile.Cron{{Command: "x", Schedule: "@daily"}})
	for _, c := range []struct {
		app    string
		global bool
		key    string
		want   string
	}{
		{"", true, "maintenance.abc", "Task maintenance properties cannot be set globally"},
		{"shop", false, "mailto", "Property cannot be specified on a per-app basis"},
		{"shop", false, "bogus", "Invalid property specified, valid properties include: mailfrom, mailto, maintenance"},
		{"shop", false, "maintenance.nope", "no matching task ID found"},
		{"shop", false, "", "No property specified"},
	} {
		if err := m.Set(ctx, c.app, c.global, c.key, "true", false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Set %q: %v, want %q", c.key, err, c.want)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.Set(ctx, "", true, "mailto", "admin@example.com", false))
	must(m.Set(ctx, "", true, "maintenance", "true", false))
	must(m.Set(ctx, "shop", false, "maintenance", "false", false))
	_, v, err := m.Report(ctx, "", true)
	must(err)
	if v["global-mailto"] != "admin@example.com" || v["computed-mailto"] != "admin@example.com" || v["computed-maintenance"] != "true" {
		t.Fatalf("global report = %v", v)
	}
	if _, ok := v["maintenance"]; ok {
		t.Fatal("the global report has the app's maintenance")
	}
	_, v, err = m.Report(ctx, "shop", false)
	must(err)
	// A per-app false does not override a global true (Dokku's rule).
	if v["maintenance"] != "false" || v["computed-maintenance"] != "true" || v["task-count"] != "1" {
		t.Fatalf("app report = %v", v)
	}
	must(m.Set(ctx, "", true, "maintenance", "", true))
	tasks, _ := m.List(ctx, "shop")
	must(m.Set(ctx, "shop", false, MaintenancePrefix+tasks[0].ID, "true", false))
	_, v, _ = m.Report(ctx, "shop", false)
	if v["computed-maintenance"] != "false" || v["maintenance-"+tasks[0].ID] != "true" {
		t.Fatalf("app report after suspend = %v", v)
	}
}

// cron:run --ttl-seconds reaches the container (attached or detached):
// the runner gets it with the job, beside the label; without it a run
// gets a day, Dokku's default.
func TestRunTaskTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, src, run, st := newManager(t)
	createApp(t, st, "shop")
	src.set("shop", []appfile.Cron{{Command: "sleep 30", Schedule: "0 0 * * *"}})
	tasks, _ := m.List(ctx, "shop")
	if _, name, err := m.RunTask(ctx, "shop", tasks[0].ID, true, 1, io.Discard); err != nil || name != "shop.run.1" {
		t.Fatalf("detached run = %q, %v", name, err)
	}
	if _, _, err := m.RunTask(ctx, "shop", tasks[0].ID, false, 300, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.RunTask(ctx, "shop", tasks[0].ID, false, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(run.ttls) != fmt.Sprint([]int64{1, 300, DefaultTTLSeconds}) {
		t.Errorf("TTLs given to the runner = %v, want [1 300 %d]", run.ttls, DefaultTTLSeconds)
	}
}

// TestTickReadsEntriesOnceForALiveRelease: an idle scheduler does not read
// every app's files at each tick; it reads an app's entries again when its
// live release changes (a deploy or rollback) or it is renamed, and
// forgets a destroyed app.
func TestTickReadsEntriesOnceForALiveRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, src, run, st := newManager(t)
	a := createApp(t, st, "shop")
	release := func() {
		t.Helper()
		err := st.Tx(ctx, func(tx *store.Tx) error {
			r, err := tx.CreateRelease(a, store.Release{StartedBy: "t"})
			if err != nil {
				return err
			}
			return tx.MakeLive(r, time.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	calls := func() int { src.mu.Lock(); defer src.mu.Unlock(); return src.calls[a.Name] }
	release()
	src.set("shop", []appfile.Cron{{Command: "echo old", Schedule: "* * * * *"}})
	minute := at("2026-01-01 10:00:00")
	tick := func() {
		m.Tick(ctx, minute.Add(-30*time.Second), minute)
		m.wg.Wait()
		minute = minute.Add(time.Minute)
	}
	for range 3 {
		tick()
	}
	if n := calls(); n != 1 {
		t.Fatalf("entries read %d times over 3 ticks of the same release; want once", n)
	}

	// A deploy: the new release's entries run from the next tick on.
	src.set("shop", []appfile.Cron{{Command: "echo new", Schedule: "* * * * *"}})
	release()
	tick()
	tick()
	if n := calls(); n != 2 {
		t.Fatalf("entries read %d times; want twice (once more for the new release)", n)
	}
	old, neu := ID("shop", "echo old", "* * * * *"), ID("shop", "echo new", "* * * * *")
	want := []string{"shop:" + old, "shop:" + old, "shop:" + old, "shop:" + neu, "shop:" + neu}
	if fmt.Sprint(run.runs) != fmt.Sprint(want) {
		t.Fatalf("runs = %v, want %v", run.runs, want)
	}

	// Destroyed: its cached entries go.
	if err := st.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteApp(a) }); err != nil {
		t.Fatal(err)
	}
	tick()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cache) != 0 {
		t.Fatalf("cache after the app was destroyed: %v", m.cache)
	}
}
