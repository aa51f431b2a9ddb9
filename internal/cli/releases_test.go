package cli

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

func TestReleasesInfoAndRollback(t *testing.T) {
	t.Parallel()
	detail := api.ReleaseDetail{
		ReleaseInfo: api.ReleaseInfo{Number: 3, Status: "live", Source: "git", SourceRef: "main", GitRev: "abc123", Image: "berth/shop:3",
			CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		Processes: map[string]string{"worker": "celery", "web": "gunicorn"}, Formation: map[string]int{"web": 2},
		ConfigKeys: []string{"A", "SECRET"}, StartedBy: "admin", FinishedAt: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC),
	}
	failed := detail
	failed.FinishedAt = time.Time{}
	failed.RollbackOf = 1
	failed.Error = "check failed"
	failed.Steps = []api.StepTime{{Step: "source", MS: 12}, {Step: "build", MS: 1400}, {Step: "check", MS: 5020}}
	row := func(k, v string) string { return sp(7) + k + ":" + sp(14-len(k)) + v + "\n" }
	runCases(t, []cliCase{
		{Args: []string{"releases:info", "shop", "3"}, Replies: map[string]reply{"releases.info": {Resp: detail}}, Ops: []string{"releases.info"},
			Reqs: map[string]string{"releases.info": `{"app":"shop","release":3}`},
			Stdout: "=====> shop release 3\n" +
				row("Status", "live") + row("Source", "git main") + row("Git rev", "abc123") + row("Image", "berth/shop:3") +
				row("Started by", "admin") + row("Created", "2026-01-02 03:04:05 UTC") + row("Finished", "2026-01-02 03:05:00 UTC") +
				row("Formation", "web=2 worker=0") + row("Config keys", "A SECRET")},
		{Name: "unfinished rollback that failed", Args: []string{"releases:info", "shop", "v3"}, Replies: map[string]reply{"releases.info": {Resp: failed}}, Ops: []string{"releases.info"},
			Reqs: map[string]string{"releases.info": `{"app":"shop","release":3}`},
			Stdout: "=====> shop release 3\n" +
				row("Status", "live") + row("Source", "git main") + row("Git rev", "abc123") + row("Image", "berth/shop:3") +
				row("Started by", "admin") + row("Created", "2026-01-02 03:04:05 UTC") + row("Rollback of", "1") +
				row("Formation", "web=2 worker=0") + row("Config keys", "A SECRET") + row("Error", "check failed") +
				row("Deploy steps", "6.43s: source 0.01s, build 1.40s, check 5.02s")},
		{Args: []string{"releases:info", "shop", "3", "--format", "json"}, Replies: map[string]reply{"releases.info": {Resp: detail}}, Ops: []string{"releases.info"},
			Has: []string{`"number":3`, `"config_keys":["A","SECRET"]`, `"started_by":"admin"`}},
		{Args: []string{"releases:info", "shop"}, Code: 1, ErrLine: "Please specify a release number (see releases shop)"},
		{Args: []string{"releases:info", "shop", "three"}, Code: 1, ErrLine: `Invalid release "three": give its number, as releases shop lists them`},
		{Args: []string{"releases:info", "shop", "0"}, Code: 1, ErrLine: `Invalid release "0"`},
		{Args: []string{"releases:info", "shop", "3", "4"}, Code: 1, ErrLine: "Unexpected argument(s): 4"},
		{Name: "no such release", Args: []string{"releases:info", "shop", "9"}, Replies: map[string]reply{"releases.info": {Err: api.Errorf(api.CodeNotFound, "shop has no release 9")}},
			Code: 1, Ops: []string{"releases.info"}, ErrLine: "shop has no release 9"},

		{Args: []string{"releases:rollback", "shop"}, Replies: map[string]reply{"releases.rollback": {Stdout: "-----> Rolling back\n"}}, Ops: []string{"releases.rollback"},
			Reqs: map[string]string{"releases.rollback": `{"app":"shop"}`}, Stdout: "-----> Rolling back\n"},
		{Args: []string{"releases:rollback", "shop", "v2"}, Replies: map[string]reply{"releases.rollback": {}}, Ops: []string{"releases.rollback"},
			Reqs: map[string]string{"releases.rollback": `{"app":"shop","release":2}`}},
		{Args: []string{"releases:rollback", "shop", "-1"}, Code: 1, ErrLine: `Invalid release "-1"`},
		{Args: []string{"releases:rollback", "shop", "x"}, Code: 1, ErrLine: `Invalid release "x"`},
	})
}

func TestChecks(t *testing.T) {
	t.Parallel()
	mode := map[string]reply{"checks.set-mode": {}}
	props := map[string]reply{"properties.report": {Resp: api.PropertyValues{
		App:      map[string]string{"disabled": "web", "skipped": "", "wait-to-retire": ""},
		Global:   map[string]string{"wait-to-retire": "90"},
		Computed: map[string]string{"wait-to-retire": "90", "default-uptime-seconds": "10", "drain-timeout": "30"},
	}}}
	runCases(t, []cliCase{
		{Args: []string{"checks:disable", "shop"}, Replies: mode, Ops: []string{"checks.set-mode"},
			Reqs: map[string]string{"checks.set-mode": `{"app":"shop","mode":"disable"}`}, Stdout: "-----> Disabling zero downtime for all processes of shop\n"},
		{Args: []string{"checks:enable", "shop", "web,worker"}, Replies: mode, Ops: []string{"checks.set-mode"},
			Reqs: map[string]string{"checks.set-mode": `{"app":"shop","types":["web","worker"],"mode":"enable"}`}, Stdout: "-----> Enabling zero downtime for web, worker of shop\n"},
		{Args: []string{"checks:skip", "shop", "web"}, Replies: mode, Ops: []string{"checks.set-mode"},
			Reqs: map[string]string{"checks.set-mode": `{"app":"shop","types":["web"],"mode":"skip"}`}, Stdout: "-----> Skipping checks for web of shop\n"},
		{Args: []string{"checks:skip", "shop", "web", "worker"}, Code: 1, ErrLine: "Unexpected argument(s): worker"},
		{Name: "set-mode on a missing app", Args: []string{"checks:disable", "gone"}, Replies: map[string]reply{"checks.set-mode": {Err: api.AppNotFound("gone")}},
			Code: 20, Ops: []string{"checks.set-mode"}, ErrLine: "App gone does not exist"},
		{Args: []string{"checks:run", "shop", "web"}, Replies: map[string]reply{"checks.run": {Stdout: "web.1 ok\n"}}, Ops: []string{"checks.run"},
			Reqs: map[string]string{"checks.run": `{"app":"shop","types":["web"]}`}, Stdout: "web.1 ok\n"},
		{Args: []string{"checks:run", "shop"}, Replies: map[string]reply{"checks.run": {}}, Ops: []string{"checks.run"}, Reqs: map[string]string{"checks.run": `{"app":"shop"}`}},

		{Args: []string{"checks:report", "shop", "--checks-disabled-list"}, Replies: props, Ops: []string{"properties.report"},
			Reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"checks"}`}, Stdout: "web\n"},
		{Args: []string{"checks:report", "shop", "--checks-skipped-list"}, Replies: props, Ops: []string{"properties.report"}, Stdout: "none\n"},
		{Args: []string{"checks:report", "shop", "--checks-global-wait-to-retire"}, Replies: props, Ops: []string{"properties.report"}, Stdout: "90\n"},
		{Args: []string{"checks:report", "shop", "--checks-wait-to-retire"}, Replies: props, Ops: []string{"properties.report"}, Stdout: "\n"},
		{Args: []string{"checks:report", "shop", "--format", "json"}, Replies: props, Ops: []string{"properties.report"},
			Stdout: `{"computed-default-uptime-seconds":"10","computed-drain-timeout":"30","computed-wait-to-retire":"90","disabled-list":"web","global-wait-to-retire":"90","skipped-list":"none","wait-to-retire":""}` + "\n"},
		{Args: []string{"checks:report", "--global", "--format", "json"}, Replies: props, Ops: []string{"properties.report"},
			Reqs:   map[string]string{"properties.report": `{"global":true,"namespace":"checks"}`},
			Stdout: `{"computed-default-uptime-seconds":"10","computed-drain-timeout":"30","computed-wait-to-retire":"90","global-default-uptime-seconds":"","global-drain-timeout":"","global-wait-to-retire":"90"}` + "\n"},
		{Args: []string{"checks:report", "--global", "--checks-global-wait-to-retire"}, Replies: props, Ops: []string{"properties.report"}, Stdout: "90\n"},
		{Args: []string{"checks:report", "--global"}, Replies: props, Ops: []string{"properties.report"}, Has: []string{"=====> --global checks information\n"}},
		{Args: []string{"checks:report", "shop"}, Replies: props, Ops: []string{"properties.report"},
			Has: []string{"=====> shop checks information\n", sp(7) + "Checks disabled list:" + sp(19) + "web\n", sp(7) + "Checks computed default uptime seconds: 10\n"}},
	})
}
