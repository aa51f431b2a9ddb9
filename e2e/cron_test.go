package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// cronEntry is a task of `cron:list --format json`.
type cronEntry struct {
	ID           string `json:"id"`
	Command      string `json:"command"`
	Maintenance  bool   `json:"maintenance"`
	NextRun      string `json:"next-run"`
	LastRun      string `json:"last-run"`
	LastExitCode *int   `json:"last-exit-code"`
	LastOutput   string `json:"last-output"`
}

func cronList(t *testing.T, d *daemon, app string) map[string]cronEntry {
	t.Helper()
	var list []cronEntry
	if err := json.Unmarshal([]byte(d.mustBerth(t, "cron:list", app, "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]cronEntry{}
	for _, e := range list {
		out[e.Command] = e
	}
	return out
}

// waitCronRuns polls cron:list until every command in want has a kept run.
func waitCronRuns(t *testing.T, d *daemon, app string, want ...string) map[string]cronEntry {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second) // a loaded CI host starts containers slowly
	for {
		tasks := cronList(t, d, app)
		done := true
		for _, c := range want {
			if tasks[c].LastRun == "" {
				done = false
			}
		}
		if done {
			return tasks
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled run of %v after 120s: %+v", want, tasks)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestCronTasksRunOnSchedule: app.json cron tasks run on their schedule
// in one-off containers of the live release; each run's output and exit
// are kept and shown by cron:list and logs; a failure is logged; cron:run
// runs a task by hand; maintenance stops the schedule.
func TestCronTasksRunOnSchedule(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng, "BERTH_CRON_TICK=200ms")
	d.mustBerth(t, "apps:create", "shop")
	const ok, fails, yearly = "testapp echo cron-ran", "testapp exit 4", "testapp echo yearly"
	out, code := d.deployTar(t, "shop", appTar(t, map[string]string{
		"Dockerfile": dockerfile("v1"),
		"app.json": `{"cron": [
			{"command": "` + ok + `", "schedule": "@every 1s", "concurrency_policy": "forbid"},
			{"command": "` + fails + `", "schedule": "@every 1s", "concurrency_policy": "forbid"},
			{"command": "` + yearly + `", "schedule": "@yearly"}]}`,
	}))
	if code != 0 {
		t.Fatalf("deploy failed (exit %d):\n%s", code, out)
	}
	tasks := waitCronRuns(t, d, "shop", ok, fails)
	if e := tasks[ok]; *e.LastExitCode != 0 || e.LastOutput != "cron-ran\n" {
		t.Errorf("kept run of %q = %+v", ok, e)
	}
	if e := tasks[fails]; *e.LastExitCode != 4 {
		t.Errorf("kept run of %q = %+v, want exit code 4", fails, e)
	}
	if e := tasks[yearly]; e.LastRun != "" || e.NextRun == "" {
		t.Errorf("the yearly task = %+v, want no run and a next run", e)
	}
	logs := d.mustBerth(t, "logs", "shop", "--ps", "cron")
	for _, want := range []string{"shop[cron." + tasks[ok].ID + "]: cron-ran", "shop[cron." + tasks[fails].ID + "]: (scheduled run of \"testapp exit 4\" failed with exit code 4)"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if !strings.Contains(d.log.String(), "cron task failed") {
		t.Error("the daemon log does not say a cron task failed")
	}

	// Maintenance: nothing starts (a run under way may still end).
	d.mustBerth(t, "cron:set", "shop", "maintenance", "true")
	since := time.Now().Add(time.Second)
	time.Sleep(3 * time.Second)
	after := cronList(t, d, "shop")[ok]
	if last, err := time.Parse(time.RFC3339, after.LastRun); err != nil || last.After(since) || !after.Maintenance {
		t.Errorf("a task started in maintenance (set at %s): %+v", since, after)
	}
	// By hand (also in maintenance): the output streams, the exit code is
	// the task's.
	if out, code := cronRunByHand(d, "shop", tasks[ok].ID); code != 0 || out != "cron-ran\n" {
		t.Errorf("cron:run: exit %d, output %q", code, out)
	}
	if out, code := cronRunByHand(d, "shop", tasks[fails].ID); code != 4 {
		t.Errorf("cron:run of the failing task: exit %d\n%s", code, out)
	}

	d.mustBerth(t, "cron:set", "shop", "maintenance")
}

// cronRunByHand runs cron:run, again while a scheduled run that started
// before maintenance holds the task's forbid lock (a loaded engine is slow).
func cronRunByHand(d *daemon, app, id string) (string, int) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, code := d.berth("cron:run", app, id)
		if !strings.Contains(out, "currently has a cron lock in place") || time.Now().After(deadline) {
			return out, code
		}
		time.Sleep(500 * time.Millisecond)
	}
}
