// Package notifycmd holds the notifications:* commands: webhooks told of
// deploys, rollbacks, failed certificate renewals and backups, and crash
// loops (internal/notify).
package notifycmd

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "notifications:add", Args: "<name> <url> [--format json|slack|discord] [--events EVENT[,EVENT...]] [--app APP]",
			Short: "Add a webhook told of deploys, rollbacks, failed renewals and backups, crash loops", Values: []string{"format", "events", "app"}, CustomFormat: true, Run: add},
		&cli.Command{Name: "notifications:list", Args: "[--format json]", Short: "List the notification targets, with their last delivery", Values: []string{"format"}, Run: list},
		&cli.Command{Name: "notifications:remove", Args: "<name>", Short: "Remove a notification target", Run: remove},
		&cli.Command{Name: "notifications:test", Args: "<name>", Short: "Send a test notification to a target now and say how it went", Run: test},
	)
}

func oneName(c *cli.Ctx) (string, error) {
	if len(c.Args) == 0 {
		return "", cli.Failf("Please specify a notification target's name")
	}
	return c.Args[0], c.NoExtraArgs(1)
}

func add(c *cli.Ctx) error {
	if len(c.Args) < 2 {
		return cli.Failf("Please specify a name and a webhook URL: %s notifications:add NAME URL [--format json|slack|discord] [--events ...] [--app APP]", c.Env.Prog)
	}
	if err := c.NoExtraArgs(2); err != nil {
		return err
	}
	req := api.NotificationAddRequest{Name: c.Args[0], URL: c.Args[1], Format: c.Flag("format", "json"), Events: c.Flag("events", ""), App: c.Flag("app", "")}
	if _, err := api.NotificationsAdd.Call(c, c.API, req); err != nil {
		return err
	}
	events, app := req.Events, req.App
	if events == "" {
		events = "all"
	}
	if app == "" {
		app = "all"
	}
	c.Info1("Added notification target %s (%s; events: %s; apps: %s)", req.Name, req.Format, events, app)
	return nil
}

func list(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.NotificationsList.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res); done || err != nil {
		return err
	}
	rows := [][]string{{"Name", "Format", "Events", "App", "URL", "Last delivery"}}
	for _, t := range res.Targets {
		events, app := strings.Join(t.Events, ","), t.App
		if events == "" {
			events = "all"
		}
		if app == "" {
			app = "all"
		}
		rows = append(rows, []string{t.Name, t.Format, events, app, redact(t.URL), last(t.Last)})
	}
	if len(res.Targets) == 0 {
		c.Println("No notification targets; add one with notifications:add NAME URL")
	} else {
		c.Columns(rows)
	}
	if res.Dropped > 0 {
		c.Warn("%d notification(s) dropped since the daemon started: the delivery queue was full", res.Dropped)
	}
	return nil
}

// redact shows a webhook URL without its path and query, which hold its
// secret (Slack's and Discord's); --format json shows it whole.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "?"
	}
	if u.Path == "" || u.Path == "/" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// last says how a target's last delivery went, in one cell.
func last(d *api.NotificationDelivery) string {
	if d == nil {
		return "-"
	}
	at := d.At.UTC().Format(time.RFC3339)
	tries := ""
	if d.Tries > 1 {
		tries = fmt.Sprintf(", %d tries", d.Tries)
	}
	if d.Error != "" {
		return fmt.Sprintf("%s %s failed: %s%s", at, d.Event, d.Error, tries)
	}
	return fmt.Sprintf("%s %s delivered (HTTP %d%s)", at, d.Event, d.Status, tries)
}

func remove(c *cli.Ctx) error {
	name, err := oneName(c)
	if err != nil {
		return err
	}
	if _, err := api.NotificationsRemove.Call(c, c.API, api.NotificationRef{Name: name}); err != nil {
		return err
	}
	c.Info1("Removed notification target %s", name)
	return nil
}

func test(c *cli.Ctx) error {
	name, err := oneName(c)
	if err != nil {
		return err
	}
	res, err := api.NotificationsTest.Call(c, c.API, api.NotificationRef{Name: name})
	if err != nil {
		return err
	}
	if res.Error != "" {
		return cli.Failf("Test notification to %s failed: %s", name, res.Error)
	}
	c.Info1("Test notification delivered to %s (HTTP %d)", name, res.Status)
	return nil
}
