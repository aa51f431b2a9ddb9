// Package previewcmd holds the previews:* commands: preview apps made of
// pushed branches (internal/preview, docs/previews.md).
package previewcmd

import (
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "previews:enable", Args: "<app>", Short: "Make a preview app of each branch pushed to an app (other than its deploy branch)", App: cli.AppRequired, Run: enable(true)},
		&cli.Command{Name: "previews:disable", Args: "<app>", Short: "Stop making preview apps of pushed branches (existing previews stay)", App: cli.AppRequired, Run: enable(false)},
		&cli.Command{Name: "previews:list", Args: "<app> [--format json]", Short: "List an app's preview apps: branch, created, expires, URL", App: cli.AppRequired, Values: []string{"format"}, Run: list},
		&cli.Command{Name: "previews:set", Args: "<app> expire [<duration>]", Short: "Set how long a preview lives after its last push (7d, 12h; empty: forever)", App: cli.AppRequired, Run: set},
		&cli.Command{Name: "previews:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display an app's preview settings", App: cli.AppOptional, Values: []string{"format"}, InfoFlags: true, Run: report},
		&cli.Command{Name: "previews:destroy", Args: "<app> <branch>", Short: "Destroy the preview app of a branch and its services", App: cli.AppRequired, Run: destroy},
	)
}

func enable(on bool) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := c.NoExtraArgs(0); err != nil {
			return err
		}
		op := api.PreviewsDisable
		if on {
			op = api.PreviewsEnable
		}
		if _, err := op.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
			return err
		}
		if on {
			c.Info2("Previews enabled for %s: a push of another branch B makes the app %s-B", c.App, c.App)
		} else {
			c.Info2("Previews disabled for %s", c.App)
		}
		return nil
	}
}

func set(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("No property specified: previews:set %s expire [<duration>]", c.App)
	}
	if err := c.NoExtraArgs(2); err != nil {
		return err
	}
	req := api.PreviewSet{App: c.App, Key: c.Args[0]}
	if len(c.Args) == 2 {
		req.Value = c.Args[1]
	}
	res, err := api.PreviewsSet.Call(c, c.API, req)
	if err != nil {
		return err
	}
	if res.Expire == "" {
		c.Info2("Previews of %s never expire", c.App)
	} else {
		c.Info2("Previews of %s expire %s after their last push", c.App, res.Expire)
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func list(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.PreviewsList.Call(c, c.API, api.AppRef{App: c.App})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res.Previews); done || err != nil {
		return err
	}
	rows := [][]string{{"Preview", "Branch", "Created", "Expires", "URL"}}
	for _, p := range res.Previews {
		u := p.URL
		if u == "" {
			u = "-"
		}
		rows = append(rows, []string{p.App, p.Branch, stamp(p.Created), stamp(p.Expires), u})
	}
	c.Columns(rows)
	return nil
}

func report(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.PreviewsReport.Call(c, c.API, api.PreviewReportRequest{App: c.App})
	if err != nil {
		return err
	}
	for _, r := range res.Reports {
		fields := []cli.Field{
			{Key: "enabled", Value: strconv.FormatBool(r.Enabled)},
			{Key: "expire", Value: r.Expire},
			{Key: "count", Value: strconv.Itoa(r.Previews)},
		}
		if err := c.Report("previews", r.App+" previews information", fields); err != nil {
			return err
		}
	}
	return nil
}

func destroy(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify the branch whose preview to destroy (previews:list %s)", c.App)
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	_, err := api.PreviewsDestroy.Stream(c, c.API, api.PreviewRef{App: c.App, Branch: c.Args[0]}, c.Output())
	return err
}
