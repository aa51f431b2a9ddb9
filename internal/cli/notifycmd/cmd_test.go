package notifycmd

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// runCLI runs the command table over fake (package clirun).
var runCLI = clirun.Run

func TestNotificationsCommands(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	targets := api.NotificationTargets{Dropped: 2, Targets: []api.NotificationTarget{
		{Name: "chat", URL: "https://hooks.slack.com/services/T0/B0/secret", Format: "slack", Events: []string{"deploy-failed"}, App: "shop",
			Last: &api.NotificationDelivery{At: at, Event: "deploy-failed", Status: 200, Tries: 3}},
		{Name: "ops", URL: "http://127.0.0.1:9000", Format: "json", Events: []string{},
			Last: &api.NotificationDelivery{At: at, Event: "test", Error: "HTTP 500: boom", Status: 500, Tries: 1}},
		{Name: "new", URL: "https://example.com/h", Format: "discord", Events: []string{}},
	}}
	empty := map[string]clitest.Reply{}
	for _, op := range []string{"notifications.add", "notifications.remove"} {
		empty[op] = clitest.Reply{Resp: api.Empty{}}
	}
	clitest.RunCases(t, runCLI, []clitest.Case{
		{Args: []string{"notifications:add", "chat", "https://hooks.slack.com/x", "--format", "slack", "--events", "deploy-failed", "--app", "shop"}, Replies: empty,
			Ops: []string{"notifications.add"}, Reqs: map[string]string{"notifications.add": `{"name":"chat","url":"https://hooks.slack.com/x","format":"slack","events":"deploy-failed","app":"shop"}`},
			Stdout: "-----> Added notification target chat (slack; events: deploy-failed; apps: shop)\n"},
		{Args: []string{"notifications:add", "ops", "http://127.0.0.1:9000"}, Replies: empty, Ops: []string{"notifications.add"},
			Reqs: map[string]string{"notifications.add": `{"name":"ops","url":"http://127.0.0.1:9000","format":"json"}`}, Has: []string{"(json; events: all; apps: all)"}},
		{Args: []string{"notifications:add", "ops"}, Code: 1, ErrLine: "Please specify a name and a webhook URL"},
		{Args: []string{"notifications:add", "ops", "http://x", "extra"}, Code: 1, ErrLine: "Unexpected argument(s): extra"},
		{Args: []string{"notifications:add", "ops", "bad"}, Replies: map[string]clitest.Reply{"notifications.add": {Err: api.Errorf(api.CodeInvalid, `Invalid URL "bad": give the webhook's http:// or https:// URL`)}},
			Ops: []string{"notifications.add"}, Code: 1, ErrLine: `Invalid URL "bad"`},
		{Args: []string{"notifications:list"}, Replies: map[string]clitest.Reply{"notifications.list": {Resp: targets}}, Ops: []string{"notifications.list"},
			Has: []string{"Name  Format   Events         App   URL", "https://hooks.slack.com/…", "2026-12-07T05:00:00Z deploy-failed delivered (HTTP 200, 3 tries)",
				"2026-12-07T05:00:00Z test failed: HTTP 500: boom", "http://127.0.0.1:9000", "new   discord  all            all   https://example.com/…      -"},
			Stderr: " !     2 notification(s) dropped since the daemon started: the delivery queue was full\n"},
		{Args: []string{"notifications:list", "--format", "json"}, Replies: map[string]clitest.Reply{"notifications.list": {Resp: targets}}, Ops: []string{"notifications.list"},
			Has: []string{`"url":"https://hooks.slack.com/services/T0/B0/secret"`, `"dropped":2`}},
		{Name: "empty list", Args: []string{"notifications:list"}, Replies: map[string]clitest.Reply{"notifications.list": {Resp: api.NotificationTargets{}}}, Ops: []string{"notifications.list"},
			Stdout: "No notification targets; add one with notifications:add NAME URL\n"},
		{Args: []string{"notifications:remove", "ops"}, Replies: empty, Ops: []string{"notifications.remove"}, Reqs: map[string]string{"notifications.remove": `{"name":"ops"}`},
			Stdout: "-----> Removed notification target ops\n"},
		{Args: []string{"notifications:remove"}, Code: 1, ErrLine: "Please specify a notification target's name"},
		{Args: []string{"notifications:test", "ops"}, Replies: map[string]clitest.Reply{"notifications.test": {Resp: api.NotificationDelivery{Status: 204, Tries: 1}}},
			Ops: []string{"notifications.test"}, Stdout: "-----> Test notification delivered to ops (HTTP 204)\n"},
		{Name: "test fails", Args: []string{"notifications:test", "ops"}, Replies: map[string]clitest.Reply{"notifications.test": {Resp: api.NotificationDelivery{Status: 0, Error: "connection refused", Tries: 1}}},
			Ops: []string{"notifications.test"}, Code: 1, ErrLine: "Test notification to ops failed: connection refused"},
	})
}
