package tokencmd

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// runCLI runs the command table over fake (package clirun).
var runCLI = clirun.Run

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	used := created.Add(time.Hour)
	list := api.TokenList{Tokens: []api.TokenInfo{
		{Name: "admin", Admin: true, CreatedAt: created},
		{Name: "ci", Apps: []string{"shop", "blog"}, ReadOnly: true, CreatedAt: created, LastUsed: &used},
	}}
	events := api.EventList{Events: []api.Event{{ID: 2, Time: created, Who: "token:ci", Op: "config.update", App: "shop", OK: false, Error: "App shop is locked", Args: []byte(`{"app":"shop"}`)}}}
	empty := map[string]clitest.Reply{"dashboard.set": {Resp: api.Empty{}}}
	clitest.RunCases(t, runCLI, []clitest.Case{
		{Args: []string{"tokens:create"}, Code: 1, ErrLine: "Please specify a name for the token"},
		{Args: []string{"tokens:create", "ci", "--apps", "shop,blog", "--read-only"},
			Replies: map[string]clitest.Reply{"tokens.create": {Resp: api.TokenCreated{TokenInfo: api.TokenInfo{Name: "ci", Apps: []string{"shop", "blog"}, ReadOnly: true}, Secret: "berth_s3cret"}}},
			Ops:     []string{"tokens.create"}, Reqs: map[string]string{"tokens.create": `{"name":"ci","apps":["shop","blog"],"read_only":true}`},
			Stdout: "-----> Created token ci (apps:shop,blog, read-only); its secret is shown this once:\nberth_s3cret\n"},
		{Args: []string{"tokens:list"}, Replies: map[string]clitest.Reply{"tokens.list": {Resp: list}}, Ops: []string{"tokens.list"},
			Stdout: "NAME   SCOPE      READ-ONLY  CREATED               LAST USED\n" +
				"admin  admin      false      2026-12-07T05:00:00Z  never\n" +
				"ci     shop,blog  true       2026-12-07T05:00:00Z  2026-12-07T06:00:00Z\n"},
		{Args: []string{"tokens:list", "--format", "json"}, Replies: map[string]clitest.Reply{"tokens.list": {Resp: list}}, Ops: []string{"tokens.list"}, Has: []string{`"name":"ci"`, `"read_only":true`}},
		{Args: []string{"tokens:revoke"}, Code: 1, ErrLine: "Please specify the name of the token to revoke"},
		{Args: []string{"tokens:revoke", "ci"}, Replies: map[string]clitest.Reply{"tokens.revoke": {Resp: api.TokenInfo{Name: "ci"}}}, Ops: []string{"tokens.revoke"}, Stdout: "-----> Revoked token ci\n"},
		{Args: []string{"events", "--limit", "0"}, Code: 1, ErrLine: `--limit must be a positive number, not "0"`},
		{Args: []string{"events", "--app", "shop", "--limit", "5"}, Replies: map[string]clitest.Reply{"events.list": {Resp: events}}, Ops: []string{"events.list"},
			Reqs: map[string]string{"events.list": `{"app":"shop","limit":5}`},
			Has:  []string{"TIME", "token:ci", "config.update", "failed: App shop is locked", `{"app":"shop"}`}},
		{Args: []string{"dashboard:set"}, Code: 1, ErrLine: "Please specify a property: domain, letsencrypt or password"},
		{Args: []string{"dashboard:set", "domain", "berth.example.com"}, Replies: empty, Ops: []string{"dashboard.set"},
			Reqs: map[string]string{"dashboard.set": `{"key":"domain","value":"berth.example.com"}`}, Stdout: "-----> Setting domain to berth.example.com\n"},
		{Args: []string{"dashboard:set", "domain"}, Replies: empty, Ops: []string{"dashboard.set"},
			Reqs: map[string]string{"dashboard.set": `{"key":"domain","unset":true}`}, Stdout: "-----> Unsetting domain\n"},
		{Args: []string{"dashboard:report", "--dashboard-listen"}, Replies: map[string]clitest.Reply{"dashboard.report": {Resp: api.DashboardInfo{Listen: "127.0.0.1:2780"}}},
			Ops: []string{"dashboard.report"}, Stdout: "127.0.0.1:2780\n"},
	})
}
