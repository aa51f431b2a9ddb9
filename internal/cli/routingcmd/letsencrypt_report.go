package routingcmd

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strconv"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

// leReport is dokku-letsencrypt's letsencrypt:report: for an app (every
// app without one) whether it serves a Let's Encrypt certificate (active),
// whether renewal runs (autorenew), its certificate's expiry (Unix
// seconds) and each setting as the app's value, the global one and the
// one that applies; --global shows only the global values.
func leReport(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	if c.InfoFlag != "" && c.Flag("format", "stdout") != "stdout" {
		return cli.Failf("--format flag cannot be specified when specifying an info flag")
	}
	if c.Global {
		fields, err := leFields(c, "")
		if err != nil {
			return err
		}
		return c.Report("letsencrypt", "global letsencrypt information", fields)
	}
	apps, err := c.ReportApps()
	if err != nil {
		return err
	}
	for _, name := range apps {
		fields, err := leFields(c, name)
		if err != nil {
			return err
		}
		if c.App == "" && c.Flag("format", "") == "json" {
			// One object per app, one a line, as dokku-letsencrypt prints them.
			obj := map[string]string{}
			for _, f := range fields {
				obj[f.Key] = f.Value
			}
			b, _ := json.Marshal(obj)
			c.Println(string(b))
			continue
		}
		if err := c.Report("letsencrypt", name+" letsencrypt information", fields); err != nil {
			return err
		}
	}
	return nil
}

// leFields are the report's fields for app, or the global ones ("").
func leFields(c *cli.Ctx, appName string) ([]cli.Field, error) {
	res, err := api.PropertiesReport.Call(c, c.API, api.PropertyReport{Scope: api.Scope{App: appName, Global: appName == ""}, Namespace: "letsencrypt"})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(res.Computed))
	for k := range res.Computed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if appName == "" {
		var fields []cli.Field
		for _, k := range keys {
			fields = append(fields, cli.Field{Key: "global-" + k, Value: res.Global[k]})
		}
		return fields, nil
	}
	info, err := api.CertsInfo.Call(c, c.API, api.CertShow{App: appName})
	if err != nil {
		return nil, err
	}
	// A key limited to some apps may not read the renewal switch: it is
	// left empty for it.
	autorenew := ""
	st, err := api.LECronJob.Call(c, c.API, api.CronJob{Show: true})
	var ae *api.Error
	switch {
	case err == nil:
		autorenew = strconv.FormatBool(st.Enabled)
	case !errors.As(err, &ae) || ae.Code != api.CodeForbidden:
		return nil, err
	}
	expiration := ""
	if info.Enabled {
		expiration = strconv.FormatInt(info.NotAfter.Unix(), 10)
	}
	fields := []cli.Field{
		{Key: "active", Value: strconv.FormatBool(info.Enabled && info.Source == "letsencrypt")},
		{Key: "autorenew", Value: autorenew},
	}
	// dokku-letsencrypt's order (Report sorts the lines by flag anyway).
	keys = append(keys, "expiration")
	slices.Sort(keys)
	for _, k := range keys {
		if k == "expiration" {
			fields = append(fields, cli.Field{Key: k, Value: expiration})
			continue
		}
		fields = append(fields, cli.Field{Key: "computed-" + k, Value: res.Computed[k]}, cli.Field{Key: "global-" + k, Value: res.Global[k]}, cli.Field{Key: k, Value: res.App[k]})
	}
	return fields, nil
}
