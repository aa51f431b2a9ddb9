// Package tokencmd holds the tokens:* commands (API tokens for the HTTP
// API), the events command (the audit log) and dashboard:set/report
// (where the HTTP API is served).
package tokencmd

import (
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "tokens:create", Args: "<name> [--apps APP[,APP...]] [--read-only]", Short: "Create an API token (admin, or limited to --apps; --read-only: reads only); prints its secret once", Values: []string{"apps"}, Bools: []string{"read-only"}, Run: tokensCreate},
		&cli.Command{Name: "tokens:list", Args: "[--format stdout|json]", Short: "List API tokens: name, scope, read-only, created, last used (never the secret)", Values: []string{"format"}, Run: tokensList},
		&cli.Command{Name: "tokens:revoke", Args: "<name>", Short: "Revoke an API token", Run: tokensRevoke},
		&cli.Command{Name: "events", Args: "[--app APP] [--limit N] [--format stdout|json]", Short: "Show the audit log: every change, who made it, when, and how it ended", Values: []string{"app", "limit", "format"}, Run: events},
		&cli.Command{Name: "dashboard:set", Args: "(domain [<domain>]|letsencrypt true|false|password [<password>])", Short: "Serve the HTTP API and dashboard behind the proxy at a domain (no value: stop), with a Let's Encrypt certificate; the dashboard's password", Run: dashboardSet},
		&cli.Command{Name: "dashboard:report", Args: "[<flag>] [--format json]", Short: "Show where the HTTP API is served", Values: []string{"format"}, InfoFlags: true, Run: dashboardReport},
	)
}

func tokensCreate(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a name for the token")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	var apps []string
	if v := c.Flag("apps", ""); v != "" {
		apps = strings.Split(v, ",")
	}
	res, err := api.TokensCreate.Call(c, c.API, api.TokenCreate{Name: c.Args[0], Apps: apps, ReadOnly: c.Bool("read-only")})
	if err != nil {
		return err
	}
	c.Info1("Created token %s (%s); its secret is shown this once:", res.Name, scope(res.TokenInfo))
	c.Println(res.Secret)
	return nil
}

// scope says what a token may touch, in one word or list.
func scope(t api.TokenInfo) string {
	s := "admin"
	if !t.Admin {
		s = "apps:" + strings.Join(t.Apps, ",")
	}
	if t.ReadOnly {
		s += ", read-only"
	}
	return s
}

func tokensList(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.TokensList.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res.Tokens); done || err != nil {
		return err
	}
	if len(res.Tokens) == 0 {
		c.Warn("No API tokens; create one with tokens:create NAME")
		return nil
	}
	rows := [][]string{{"NAME", "SCOPE", "READ-ONLY", "CREATED", "LAST USED"}}
	for _, t := range res.Tokens {
		s := "admin"
		if !t.Admin {
			s = strings.Join(t.Apps, ",")
		}
		used := "never"
		if t.LastUsed != nil {
			used = t.LastUsed.UTC().Format(time.RFC3339)
		}
		rows = append(rows, []string{t.Name, s, strconv.FormatBool(t.ReadOnly), t.CreatedAt.UTC().Format(time.RFC3339), used})
	}
	c.Columns(rows)
	return nil
}

func tokensRevoke(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify the name of the token to revoke")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	t, err := api.TokensRevoke.Call(c, c.API, api.TokenRef{Name: c.Args[0]})
	if err != nil {
		return err
	}
	c.Info1("Revoked token %s", t.Name)
	return nil
}

func events(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	limit := 0
	if v := c.Flag("limit", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return cli.Failf("--limit must be a positive number, not %q", v)
		}
		limit = n
	}
	res, err := api.EventsList.Call(c, c.API, api.EventsRequest{App: c.Flag("app", ""), Limit: limit})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res.Events); done || err != nil {
		return err
	}
	if len(res.Events) == 0 {
		c.Warn("No events recorded")
		return nil
	}
	rows := [][]string{{"TIME", "WHO", "OPERATION", "APP", "OUTCOME", "ARGS"}}
	for _, e := range res.Events {
		outcome := "ok"
		if !e.OK {
			outcome = "failed: " + e.Error
		}
		app := e.App
		if app == "" {
			app = "-"
		}
		rows = append(rows, []string{e.Time.UTC().Format(time.RFC3339), e.Who, e.Op, app, outcome, string(e.Args)})
	}
	c.Columns(rows)
	return nil
}

func dashboardSet(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a property: domain, letsencrypt or password")
	}
	if err := c.NoExtraArgs(2); err != nil {
		return err
	}
	if c.Args[0] == "password" {
		return dashboardPassword(c)
	}
	ch := api.DashboardChange{Key: c.Args[0]}
	if len(c.Args) == 2 && c.Args[1] != "" {
		ch.Value = c.Args[1]
	} else {
		ch.Unset = true
	}
	if _, err := api.DashboardSet.Stream(c, c.API, ch, c.Output()); err != nil {
		return err
	}
	if ch.Unset {
		c.Info1("Unsetting %s", ch.Key)
	} else {
		c.Info1("Setting %s to %s", ch.Key, ch.Value)
	}
	return nil
}

// dashboardPassword sets the dashboard's login password (never printed).
func dashboardPassword(c *cli.Ctx) error {
	var ch api.DashboardPasswordChange
	if len(c.Args) == 2 {
		ch.Password = c.Args[1]
	}
	if _, err := api.DashboardPassword.Call(c, c.API, ch); err != nil {
		return err
	}
	if ch.Password == "" {
		c.Info1("Unsetting password: only tokens log in to the dashboard")
	} else {
		c.Info1("Setting password")
	}
	return nil
}

func dashboardReport(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	r, err := api.DashboardReport.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	expires := ""
	if r.CertExpires != nil {
		expires = r.CertExpires.UTC().Format(time.RFC3339)
	}
	return c.Report("dashboard", "Dashboard information", []cli.Field{
		{Key: "listen", Value: r.Listen},
		{Key: "domain", Value: r.Domain},
		{Key: "url", Value: r.URL},
		{Key: "tls", Value: strconv.FormatBool(r.TLS)},
		{Key: "letsencrypt", Value: strconv.FormatBool(r.LetsEncrypt)},
		{Key: "cert-expires", Value: expires},
		{Key: "cert-error", Value: r.CertError},
	})
}
