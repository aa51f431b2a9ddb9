package croncmd

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
	_ "github.com/berthpaas/berth/internal/cli/logscmd"
)

// runCLI runs the command table over fake (package clirun).
var runCLI = clirun.Run

func empty(op string) map[string]clitest.Reply {
	return map[string]clitest.Reply{op: {Resp: api.Empty{}}}
}

func TestCronAndLogsCommands(t *testing.T) {
	t.Parallel()
	tasks := api.CronTasks{Tasks: []api.CronTask{{ID: "abc", App: "shop", Command: "python3 task.py", Schedule: "@daily", ConcurrencyPolicy: "allow",
		LastRun: &api.CronRunRecord{ExitCode: 3, Output: "boom\n"}}}}
	report := api.CronReportValues{Keys: []string{"computed-mailto", "global-mailto"}, Values: map[string]string{"computed-mailto": "a@b", "global-mailto": "a@b"}}
	logsReport := api.PropertyValues{App: map[string]string{"max-size": "20m"}, Global: map[string]string{}, Computed: map[string]string{"max-size": "20m"}}
	clitest.RunCases(t, runCLI, []clitest.Case{
		{Args: []string{"cron:list", "shop", "--format", "json"}, Replies: map[string]clitest.Reply{"cron.list": {Resp: tasks}}, Ops: []string{"cron.list"},
			Has: []string{`"id":"abc"`, `"app":"shop"`, `"concurrency_policy":"allow"`, `"app-in-maintenance":false`, `"last-exit-code":3`, `"last-output":"boom\n"`}},
		{Args: []string{"cron:list", "shop"}, Replies: map[string]clitest.Reply{"cron.list": {Resp: tasks}}, Ops: []string{"cron.list"},
			Has: []string{"ID   Schedule  Concurrency  Maintenance  Command          Last run", "failed (exit 3)"}},
		{Args: []string{"cron:run", "shop", "abc", "--detach", "--ttl-seconds", "0"}, Code: 1, ErrLine: "--ttl-seconds must be a positive integer"},
		{Args: []string{"cron:run", "shop", "abc"}, Replies: map[string]clitest.Reply{"cron.run": {Resp: api.CronRunResult{ExitCode: 3}}}, Ops: []string{"cron.run"}, Code: 3,
			Reqs: map[string]string{"cron.run": `{"app":"shop","id":"abc"}`}},
		{Args: []string{"cron:run", "shop", "abc", "--detach"}, Replies: map[string]clitest.Reply{"cron.run": {Resp: api.CronRunResult{Name: "shop.run.1"}}}, Ops: []string{"cron.run"}, Stdout: "shop.run.1\n"},
		{Args: []string{"cron:set", "--global", "mailto", "a@b"}, Replies: empty("cron.set"), Ops: []string{"cron.set"}, Reqs: map[string]string{"cron.set": `{"global":true,"key":"mailto","value":"a@b"}`}, Stdout: "=====> Setting mailto to a@b\n"},
		{Args: []string{"cron:set", "--global", "mailto"}, Replies: empty("cron.set"), Ops: []string{"cron.set"}, Reqs: map[string]string{"cron.set": `{"global":true,"key":"mailto","unset":true}`}, Stdout: "=====> Unsetting mailto\n"},
		{Args: []string{"cron:suspend", "shop", "abc"}, Replies: empty("cron.set"), Ops: []string{"cron.set"}, Reqs: map[string]string{"cron.set": `{"app":"shop","key":"maintenance.abc","value":"true"}`}, Has: []string{"Suspended"}},
		{Args: []string{"cron:report", "--global", "--format", "json"}, Replies: map[string]clitest.Reply{"cron.report": {Resp: report}}, Ops: []string{"cron.report"},
			Stdout: `{"computed-mailto":"a@b","cron-computed-mailto":"a@b","cron-global-mailto":"a@b","global-mailto":"a@b"}` + "\n"},
		{Args: []string{"cron:report", "--global", "--cron-bogus"}, Replies: map[string]clitest.Reply{"cron.report": {Resp: report}}, Ops: []string{"cron.report"}, Code: 1,
			ErrLine: "Invalid flag passed, valid flags: --cron-computed-mailto, --cron-global-mailto"},
		{Args: []string{"logs:set", "shop", "invalid"}, Code: 1, ErrLine: "Invalid property specified, valid properties include: app-label-alias, max-size, vector-cron-sink, vector-image, vector-networks, vector-sink"},
		{Args: []string{"logs:set", "shop", "vector-image", "x"}, Code: 1, ErrLine: "vector-image may only be set globally with --global"},
		{Args: []string{"logs:set", "shop", "max-size", "20m"}, Replies: empty("properties.set"), Ops: []string{"properties.set"}, Stdout: "=====> Setting max-size to 20m\n"},
		{Args: []string{"logs:report", "shop", "--logs-max-size"}, Replies: map[string]clitest.Reply{"properties.report": {Resp: logsReport}}, Ops: []string{"properties.report"}, Stdout: "20m\n"},
		{Args: []string{"logs:report", "shop", "--invalid-flag"}, Replies: map[string]clitest.Reply{"properties.report": {Resp: logsReport}}, Ops: []string{"properties.report"}, Code: 1,
			ErrLine: "Invalid flag passed, valid flags: --logs-app-label-alias, --logs-computed-app-label-alias, --logs-computed-max-size, --logs-computed-vector-cron-sink, --logs-computed-vector-image, --logs-computed-vector-networks, --logs-computed-vector-sink, --logs-global-app-label-alias, --logs-global-max-size, --logs-global-vector-cron-sink, --logs-global-vector-image, --logs-global-vector-networks, --logs-global-vector-sink, --logs-max-size, --logs-vector-cron-sink, --logs-vector-sink"},
		{Args: []string{"logs:set"}, Code: 1, ErrLine: "Please specify an app to run the command on"},
		{Args: []string{"logs:set", "gone"}, Replies: map[string]clitest.Reply{"apps.info": {Err: api.AppNotFound("gone")}}, Ops: []string{"apps.info"}, Code: 20, ErrLine: "App gone does not exist"},
		{Args: []string{"logs:failed", "shop"}, Replies: map[string]clitest.Reply{"logs.failed": {Resp: api.LogsFailedResult{}}}, Ops: []string{"logs.failed"}, Stderr: " !     No failed containers found\n"},
	})
}
