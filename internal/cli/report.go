package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

// Field is one line of a NAMESPACE:report.
type Field struct {
	// Key is without the namespace, e.g. "created-at" (--app-created-at);
	// a key starting with "--" is a flag without the namespace, as Dokku's
	// ps:report --deployed (its JSON key is "deployed").
	Key   string
	Value string
}

// bare says the line's flag has no namespace.
func (f Field) bare() bool { return strings.HasPrefix(f.Key, "--") }

// flag is the line's info flag, e.g. --ps-restart-policy.
func (f Field) flag(ns string) string {
	if f.bare() {
		return f.Key
	}
	return "--" + ns + "-" + f.Key
}

// jsonKey is the line's key in the JSON report, without the namespace.
func (f Field) jsonKey() string { return strings.TrimPrefix(f.Key, "--") }

// legacyJSONKeys are the reports whose JSON has each key twice, as Dokku's
// do during its deprecation window (EmitLegacyPrefix): without the
// namespace ("computed-stop-timeout-seconds") and with it
// ("ps-computed-stop-timeout-seconds"). The others have only the key
// without the namespace. A new report of one of these namespaces gets it by
// calling Ctx.Report with the namespace.
var legacyJSONKeys = map[string]bool{
	"app": true, "app-json": true, "builder": true, "buildpacks": true, "builds": true,
	"cron": true, "docker-options": true, "logs": true, "network": true, "ports": true,
	"proxy": true, "ps": true, "registry": true, "resource": true, "scheduler": true,
	"storage": true,
}

// ReportSubject is what a report's title names: the app, or "--global"
// (Dokku's title of a --global report is "--global NS information").
func (c *Ctx) ReportSubject() string {
	if c.Global {
		return "--global"
	}
	return c.App
}

// ReportOptions adjust ReportWith.
type ReportOptions struct {
	// Unsorted keeps the fields in the order given instead of sorting
	// them by flag (storage:report lists each attachment's lines together).
	Unsorted bool
	// JSON, when set, is the object printed with --format json instead of
	// the one built from the fields (docker-options:report adds lists).
	JSON map[string]any
	// Warnings are printed (as warnings) before the report, not before an
	// info flag's value.
	Warnings []string
}

// Report prints a NAMESPACE:report as Dokku does: a header and padded
// labels sorted by flag; one value with an info flag (--NS-KEY); or a JSON
// object with --format json (keys without the namespace, and with it too
// for the namespaces in legacyJSONKeys).
func (c *Ctx) Report(ns, title string, fields []Field) error {
	return c.ReportWith(ns, title, fields, ReportOptions{})
}

// ReportWith prints a report as Report does, adjusted by opt.
func (c *Ctx) ReportWith(ns, title string, fields []Field, opt ReportOptions) error {
	format := c.Flag("format", "stdout")
	if format != "stdout" && format != "json" {
		return Failf("Invalid format: %s; use stdout or json", format)
	}
	sorted := append([]Field(nil), fields...)
	if !opt.Unsorted {
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].flag(ns) < sorted[j].flag(ns) })
	}
	if c.InfoFlag != "" {
		if format == "json" {
			return Failf("--format flag cannot be specified when specifying an info flag")
		}
		var valid []string
		for _, f := range sorted {
			if f.flag(ns) == c.InfoFlag {
				c.Println(f.Value)
				return nil
			}
			valid = append(valid, f.flag(ns))
		}
		return Failf("Invalid flag passed, valid flags: %s", strings.Join(valid, ", "))
	}
	for _, w := range opt.Warnings {
		c.Warn("%s", w)
	}
	if format == "json" {
		obj := opt.JSON
		if obj == nil {
			obj = map[string]any{}
			for _, f := range sorted {
				obj[f.jsonKey()] = f.Value
				if legacyJSONKeys[ns] && !f.bare() {
					obj[ns+"-"+f.Key] = f.Value
				}
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		c.Println(string(b))
		return nil
	}
	c.Info2("%s", title)
	width := 31
	for _, f := range sorted {
		width = max(width, len(f.flag(ns)))
	}
	for _, f := range sorted {
		label := strings.NewReplacer("-", " ", ".", " ").Replace(strings.TrimPrefix(f.flag(ns), "--")) + ":"
		label = strings.ToUpper(label[:1]) + label[1:]
		c.Verbose("%s", fmt.Sprintf("%-*s%s", width, label, f.Value))
	}
	return nil
}

// SettingFields turns the report lines the daemon computed for a namespace's
// settings (api.PropertyValues.Fields) into Fields, values on one line.
func SettingFields(v api.PropertyValues) []Field {
	fields := make([]Field, 0, len(v.Fields))
	for _, f := range v.Fields {
		fields = append(fields, Field{Key: f.Key, Value: strings.ReplaceAll(f.Value, "\n", " ")})
	}
	return fields
}

// SettingsReport implements NAMESPACE:report (APP|--global) for a namespace
// whose report is its settings: the lines each setting declares in the
// registry (app.Setting.Report). Its command sets Global so --global is
// accepted.
func SettingsReport(ns string) func(*Ctx) error {
	return func(c *Ctx) error {
		res, err := api.PropertiesReport.Call(c, c.API, api.PropertyReport{Scope: api.Scope{App: c.App, Global: c.Global}, Namespace: ns})
		if err != nil {
			return err
		}
		return c.Report(ns, c.ReportSubject()+" "+ns+" information", SettingFields(res))
	}
}

// ReportApps is the apps a NAMESPACE:report covers: the one named, none
// for --global (the report is the global one: [""]), or every app when
// none is named. With no app at all it warns as Dokku does and returns
// none.
func (c *Ctx) ReportApps() ([]string, error) {
	if c.App != "" || c.Global {
		return []string{c.App}, nil
	}
	list, err := api.AppsList.Call(c, c.API, api.Empty{})
	if err != nil {
		return nil, err
	}
	if len(list.Apps) == 0 {
		c.Warn("You haven't deployed any applications yet")
		return nil, nil
	}
	apps := make([]string, 0, len(list.Apps))
	for _, a := range list.Apps {
		apps = append(apps, a.Name)
	}
	return apps, nil
}
