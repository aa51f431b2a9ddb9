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
	row := func(k, v string) string { return sp(7) + k + ":" + sp(14-len(k)) + v + "\n" }
	runCases(t, []cliCase{
		{args: []string{"releases:info", "shop", "3"}, replies: map[string]reply{"releases.info": {Resp: detail}}, ops: []string{"releases.info"},
			reqs: map[string]string{"releases.info": `{"app":"shop","release":3}`},
			stdout: "=====> shop release 3\n" +
				row("Status", "live") + row("Source", "git main") + row("Git rev", "abc123") + row("Image", "berth/shop:3") +
				row("Started by", "admin") + row("Created", "2026-01-02 03:04:05 UTC") + row("Finished", "2026-01-02 03:05:00 UTC") +
				row("Formation", "web=2 worker=0") + row("Config keys", "A SECRET")},
		{name: "unfinished rollback that failed", args: []string{"releases:info", "shop", "v3"}, replies: map[string]reply{"releases.info": {Resp: failed}}, ops: []string{"releases.info"},
			reqs: map[string]string{"releases.info": `{"app":"shop","release":3}`},
			stdout: "=====> shop release 3\n" +
				row("Status", "live") + row("Source", "git main") + row("Git rev", "abc123") + row("Image", "berth/shop:3") +
				row("Started by", "admin") + row("Created", "2026-01-02 03:04:05 UTC") + row("Rollback of", "1") +
				row("Formation", "web=2 worker=0") + row("Config keys", "A SECRET") + row("Error", "check failed")},
		{args: []string{"releases:info", "shop", "3", "--format", "json"}, replies: map[string]reply{"releases.info": {Resp: detail}}, ops: []string{"releases.info"},
			has: []string{`"number":3`, `"config_keys":["A","SECRET"]`, `"started_by":"admin"`}},
		{args: []string{"releases:info", "shop"}, code: 1, errLine: "Please specify a release number (see releases shop)"},
		{args: []string{"releases:info", "shop", "three"}, code: 1, errLine: `Invalid release "three": give its number, as releases shop lists them`},
		{args: []string{"releases:info", "shop", "0"}, code: 1, errLine: `Invalid release "0"`},
		{args: []string{"releases:info", "shop", "3", "4"}, code: 1, errLine: "Unexpected argument(s): 4"},
		{name: "no such release", args: []string{"releases:info", "shop", "9"}, replies: map[string]reply{"releases.info": {Err: api.Errorf(api.CodeNotFound, "shop has no release 9")}},
			code: 1, ops: []string{"releases.info"}, errLine: "shop has no release 9"},

		{args: []string{"releases:rollback", "shop"}, replies: map[string]reply{"releases.rollback": {Stdout: "-----> Rolling back\n"}}, ops: []string{"releases.rollback"},
			reqs: map[string]string{"releases.rollback": `{"app":"shop"}`}, stdout: "-----> Rolling back\n"},
		{args: []string{"releases:rollback", "shop", "v2"}, replies: map[string]reply{"releases.rollback": {}}, ops: []string{"releases.rollback"},
			reqs: map[string]string{"releases.rollback": `{"app":"shop","release":2}`}},
		{args: []string{"releases:rollback", "shop", "-1"}, code: 1, errLine: `Invalid release "-1"`},
		{args: []string{"releases:rollback", "shop", "x"}, code: 1, errLine: `Invalid release "x"`},
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
		{args: []string{"checks:disable", "shop"}, replies: mode, ops: []string{"checks.set-mode"},
			reqs: map[string]string{"checks.set-mode": `{"app":"shop","mode":"disable"}`}, stdout: "-----> Disabling zero downtime for all processes of shop\n"},
		{args: []string{"checks:enable", "shop", "web,worker"}, replies: mode, ops: []string{"checks.set-mode"},
			reqs: map[string]string{"checks.set-mode": `{"app":"shop","types":["web","worker"],"mode":"enable"}`}, stdout: "-----> Enabling zero downtime for web, worker of shop\n"},
		{args: []string{"checks:skip", "shop", "web"}, replies: mode, ops: []string{"checks.set-mode"},
			reqs: map[string]string{"checks.set-mode": `{"app":"shop","types":["web"],"mode":"skip"}`}, stdout: "-----> Skipping checks for web of shop\n"},
		{args: []string{"checks:skip", "shop", "web", "worker"}, code: 1, errLine: "Unexpected argument(s): worker"},
		{name: "set-mode on a missing app", args: []string{"checks:disable", "gone"}, replies: map[string]reply{"checks.set-mode": {Err: api.AppNotFound("gone")}},
			code: 20, ops: []string{"checks.set-mode"}, errLine: "App gone does not exist"},
		{args: []string{"checks:run", "shop", "web"}, replies: map[string]reply{"checks.run": {Stdout: "web.1 ok\n"}}, ops: []string{"checks.run"},
			reqs: map[string]string{"checks.run": `{"app":"shop","types":["web"]}`}, stdout: "web.1 ok\n"},
		{args: []string{"checks:run", "shop"}, replies: map[string]reply{"checks.run": {}}, ops: []string{"checks.run"}, reqs: map[string]string{"checks.run": `{"app":"shop"}`}},

		{args: []string{"checks:report", "shop", "--checks-disabled-list"}, replies: props, ops: []string{"properties.report"},
			reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"checks"}`}, stdout: "web\n"},
		{args: []string{"checks:report", "shop", "--checks-skipped-list"}, replies: props, ops: []string{"properties.report"}, stdout: "none\n"},
		{args: []string{"checks:report", "shop", "--checks-global-wait-to-retire"}, replies: props, ops: []string{"properties.report"}, stdout: "90\n"},
		{args: []string{"checks:report", "shop", "--checks-wait-to-retire"}, replies: props, ops: []string{"properties.report"}, stdout: "\n"},
		{args: []string{"checks:report", "shop", "--format", "json"}, replies: props, ops: []string{"properties.report"},
			stdout: `{"computed-default-uptime-seconds":"10","computed-drain-timeout":"30","computed-wait-to-retire":"90","disabled-list":"web","global-wait-to-retire":"90","skipped-list":"none","wait-to-retire":""}` + "\n"},
		{args: []string{"checks:report", "shop"}, replies: props, ops: []string{"properties.report"},
			has: []string{"=====> shop checks information\n", sp(7) + "Checks disabled list:" + sp(19) + "web\n", sp(7) + "Checks computed default uptime seconds: 10\n"}},

		{args: []string{"proxy:report", "shop", "--proxy-computed-client-max-body-size"},
			replies: map[string]reply{"properties.report": {Resp: api.PropertyValues{App: map[string]string{"client-max-body-size": ""}, Computed: map[string]string{"client-max-body-size": "1m"}}}},
			ops:     []string{"properties.report"}, reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"proxy"}`}, stdout: "1m\n"},
	})
}
