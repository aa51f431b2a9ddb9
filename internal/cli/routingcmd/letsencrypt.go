package routingcmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	le := func(name, args, short string, run func(*cli.Ctx) error) *cli.Command {
		return &cli.Command{Name: name, Args: args, Short: short, App: cli.AppRequired, Run: run}
	}
	cli.Register(
		&cli.Command{Name: "letsencrypt:set", Args: "(<app>|--global) email|server|graceperiod [<value>]", Short: "Set a Let's Encrypt setting (server: default, staging or a directory URL)", App: cli.AppRequired, Global: true, Run: cli.PropertySetter("letsencrypt")},
		&cli.Command{Name: "letsencrypt:enable", Args: "(<app>|--all)", Short: "Get a certificate for the app's domains (and redirect sources) and keep it renewed", App: cli.AppOptional, Bools: []string{"all"}, Run: leEnable},
		&cli.Command{Name: "letsencrypt", Args: "<app>", Short: "Same as letsencrypt:enable (Dokku's older form)", App: cli.AppRequired, Hidden: true, Run: leEnable},
		le("letsencrypt:disable", "<app>", "Stop using Let's Encrypt for the app (its certificate is removed)", leDisable),
		le("letsencrypt:active", "<app>", "Print true when the app serves a Let's Encrypt certificate", leActive),
		&cli.Command{Name: "letsencrypt:list", Args: "[--format json]", Short: "List apps with Let's Encrypt: domains, expiry, time left, next renewal, last error", Values: []string{"format"}, Run: leList},
		&cli.Command{Name: "letsencrypt:auto-renew", Args: "[<app>]", Short: "Renew what is due now (Berth renews on its own)", App: cli.AppOptional, Run: leAutoRenew},
		// An unknown flag reaches leCron (as an info flag), which refuses
		// it in dokku-letsencrypt's words.
		&cli.Command{Name: "letsencrypt:cron-job", Args: "[--add|--remove]", Short: "Show, or switch on or off, automatic renewal (no cron needed: it runs in Berth)", Bools: []string{"add", "remove"}, InfoFlags: true, Run: leCron},
		le("letsencrypt:revoke", "<app>", "Revoke the app's certificate and stop using Let's Encrypt for it", leRevoke),
		&cli.Command{Name: "letsencrypt:report", Args: "[<app>|--global] [<flag>] [--format json]", Short: "Display the Let's Encrypt status and settings of one app, every app, or the global settings", App: cli.AppOptional, Global: true, Values: []string{"format"}, InfoFlags: true, Run: leReport},
	)
}

func leEnable(c *cli.Ctx) error {
	if c.App == "" && !c.Bool("all") {
		return cli.Failf("Please specify an app to run the command on, or --all")
	}
	_, err := api.LEEnable.Stream(c, c.API, api.PSRequest{App: c.App, All: c.Bool("all")}, c.Output())
	return err
}

func leDisable(c *cli.Ctx) error {
	if _, err := api.LEDisable.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	c.Info1("Disabled Let's Encrypt for %s", c.App)
	return nil
}

func leActive(c *cli.Ctx) error {
	info, err := api.CertsInfo.Call(c, c.API, api.CertShow{App: c.App})
	if err != nil {
		return err
	}
	c.Println(fmt.Sprint(info.Enabled && info.Source == "letsencrypt"))
	return nil
}

func leList(c *cli.Ctx) error {
	res, err := api.LEList.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res.Apps); done || err != nil {
		return err
	}
	c.Println(fmt.Sprintf("%-20s %-40s %-20s %-14s %-20s %s", "-----> App name", "Domains", "Certificate Expiry", "Time before", "Next renewal", "Last error"))
	for _, e := range res.Apps {
		left, next, expiry := "-", "-", "-"
		if !e.Expires.IsZero() {
			expiry = e.Expires.UTC().Format("2006-01-02 15:04:05")
			left = time.Until(e.Expires).Round(time.Hour).String()
			next = e.NextRenewal.UTC().Format("2006-01-02 15:04:05")
		}
		c.Println(fmt.Sprintf("%-20s %-40s %-20s %-14s %-20s %s", e.App, strings.Join(e.Domains, ","), expiry, left, next, e.LastError))
	}
	return nil
}

func leAutoRenew(c *cli.Ctx) error {
	if _, err := api.LEAutoRenew.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	c.Info1("Renewed the certificates that were due")
	return nil
}

func leCron(c *cli.Ctx) error {
	if c.InfoFlag != "" {
		return cli.Failf("Invalid flag passed: %s; use --add or --remove (or neither, to see the status)", c.InfoFlag)
	}
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	add, remove := c.Bool("add"), c.Bool("remove")
	if add && remove {
		return cli.Failf("Give --add or --remove, not both")
	}
	show := !add && !remove
	st, err := api.LECronJob.Call(c, c.API, api.CronJob{Add: add, Show: show})
	if err != nil {
		return err
	}
	if show { // dokku-letsencrypt's words
		if st.Enabled {
			c.Info1("Auto-renew cron job is enabled (Berth renews certificates itself); turn it off with letsencrypt:cron-job --remove")
		} else {
			c.Info1("Auto-renew cron job is not enabled; turn it on with letsencrypt:cron-job --add")
		}
		return nil
	}
	if st.Enabled {
		c.Info1("Automatic renewal is on: Berth renews certificates itself (no cron job is needed)")
	} else {
		c.Info1("Automatic renewal is off")
	}
	return nil
}

func leRevoke(c *cli.Ctx) error {
	if _, err := api.LERevoke.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	c.Info1("Revoked the certificate of %s", c.App)
	return nil
}
