package cli

import (
	"bufio"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

func init() {
	Register(
		&Command{Name: "releases:info", Args: "<app> <release>", Short: "Show one release: image, rev, processes, formation, config keys, who and when", App: AppRequired, Values: []string{"format"}, Run: releasesInfo},
		&Command{Name: "releases:rollback", Args: "<app> [<release>] [--with-data [--force]]", Short: "Make an earlier release live again (default: the previous one): its image and config, no rebuild; --with-data also restores the linked databases from the snapshot taken before the release after it", App: AppRequired, Bools: []string{"with-data", "force"}, Run: releasesRollback},
		&Command{Name: "releases:set", Args: "(<app>|--global) (keep|snapshots-keep) [<n>]", Short: "How many releases keep their image for rollback (keep, default 5) and their snapshots of linked databases (snapshots-keep, default 5; 0: none taken)", App: AppRequired, Global: true, Run: PropertySetter("releases")},
		&Command{Name: "checks:disable", Args: "<app> [<type>,...]", Short: "Disable checks (old containers stop before new ones start)", App: AppRequired, Run: checksMode("disable")},
		&Command{Name: "checks:enable", Args: "<app> [<type>,...]", Short: "Enable checks again", App: AppRequired, Run: checksMode("enable")},
		&Command{Name: "checks:skip", Args: "<app> [<type>,...]", Short: "Skip checks (new containers get traffic at once)", App: AppRequired, Run: checksMode("skip")},
		&Command{Name: "checks:run", Args: "<app> [<type>,...]", Short: "Run the startup checks against the running containers now", App: AppRequired, Run: checksRun},
		&Command{Name: "checks:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display an app's checks settings, or the global ones", App: AppRequired, Values: []string{"format"}, Global: true, InfoFlags: true, Run: checksReport},
	)
}

func releaseNumber(c *Ctx, required bool) (int, error) {
	if len(c.Args) == 0 {
		if required {
			return 0, Failf("Please specify a release number (see releases %s)", c.App)
		}
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(c.Args[0], "v"))
	if err != nil || n < 1 {
		return 0, Failf("Invalid release %q: give its number, as releases %s lists them", c.Args[0], c.App)
	}
	return n, c.NoExtraArgs(1)
}

func releasesInfo(c *Ctx) error {
	n, err := releaseNumber(c, true)
	if err != nil {
		return err
	}
	r, err := api.ReleasesInfo.Call(c, c.API, api.ReleaseRef{App: c.App, Release: n})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(r); done || err != nil {
		return err
	}
	c.Info2("%s release %d", c.App, r.Number)
	row := func(k, v string) { c.Verbose("%s", fmt.Sprintf("%-14s %s", k+":", v)) }
	row("Status", r.Status)
	row("Source", strings.TrimSpace(r.Source+" "+r.SourceRef))
	row("Git rev", r.GitRev)
	row("Image", r.Image)
	row("Started by", r.StartedBy)
	row("Created", r.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	if !r.FinishedAt.IsZero() {
		row("Finished", r.FinishedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if r.RollbackOf != 0 {
		row("Rollback of", strconv.Itoa(r.RollbackOf))
	}
	var procs []string
	for _, t := range slices.Sorted(maps.Keys(r.Processes)) {
		procs = append(procs, fmt.Sprintf("%s=%d", t, r.Formation[t]))
	}
	row("Formation", strings.Join(procs, " "))
	row("Config keys", strings.Join(r.ConfigKeys, " "))
	if r.Error != "" {
		row("Error", r.Error)
	}
	for _, s := range r.Snapshots {
		row("Snapshot", describeSnapshot(s))
	}
	if len(r.Steps) > 0 {
		row("Deploy steps", describeSteps(r.Steps))
	}
	return nil
}

// describeSteps shows the times of a release's last deploy: the total,
// then each step, e.g. "1.32s: source 0.01s, build 0.41s, ...".
func describeSteps(steps []api.StepTime) string {
	var total int64
	parts := make([]string, 0, len(steps))
	for _, s := range steps {
		total += s.MS
		parts = append(parts, fmt.Sprintf("%s %.2fs", s.Step, float64(s.MS)/1000))
	}
	return fmt.Sprintf("%.2fs: %s", float64(total)/1000, strings.Join(parts, ", "))
}

func releasesRollback(c *Ctx) error {
	n, err := releaseNumber(c, false)
	if err != nil {
		return err
	}
	req := api.RollbackRequest{App: c.App, Release: n}
	if c.Bool("force") && !c.Bool("with-data") {
		return Failf("--force confirms --with-data: give both, or neither")
	}
	if c.Bool("with-data") {
		// Resolve first: no snapshot is one line, before any prompt.
		p, err := api.ReleasesDataPlan.Call(c, c.API, req)
		if err != nil {
			return err
		}
		if !c.Bool("force") {
			c.Warn("WARNING: Potentially Destructive Action")
			c.Warn("This rolls %s back from release %d to release %d and restores its databases from the snapshot taken before release %d:", c.App, p.Live, p.Target, p.From)
			for _, s := range p.Snapshots {
				c.Warn("  %s %s as of %s: every change to it since then is lost", s.Kind, s.Service, s.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
			}
			c.Warn("To proceed, type \"%s\"", c.App)
			c.Stderr.Write([]byte("\n> "))
			line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
			if strings.TrimSpace(line) != c.App {
				return Failf("Confirmation did not match %s. Aborted.", c.App)
			}
		}
		req.WithData, req.DataFrom = true, p.From
	}
	_, err = api.ReleasesRollback.Stream(c, c.API, req, c.Output())
	return err
}

// describeSnapshot is one snapshot in a line: "postgres db, 12.3 MB,
// 2026-12-07 08:30:00 UTC (took 1.20s)".
func describeSnapshot(s api.SnapshotInfo) string {
	return fmt.Sprintf("%s %s, %s, %s (took %.2fs)", s.Kind, s.Service, sizeOf(s.Bytes), s.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), float64(s.TookMS)/1000)
}

// sizeOf is n bytes as "12.3 MB".
func sizeOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func checkTypes(c *Ctx) ([]string, error) {
	if len(c.Args) == 0 {
		return nil, nil
	}
	if err := c.NoExtraArgs(1); err != nil {
		return nil, err
	}
	return strings.Split(c.Args[0], ","), nil
}

func checksMode(mode string) func(*Ctx) error {
	return func(c *Ctx) error {
		types, err := checkTypes(c)
		if err != nil {
			return err
		}
		if _, err := api.ChecksSetMode.Call(c, c.API, api.ChecksMode{App: c.App, Types: types, Mode: mode}); err != nil {
			return err
		}
		what := "all processes"
		if len(types) > 0 {
			what = strings.Join(types, ", ")
		}
		switch mode {
		case "disable":
			c.Info1("Disabling zero downtime for %s of %s", what, c.App)
		case "enable":
			c.Info1("Enabling zero downtime for %s of %s", what, c.App)
		case "skip":
			c.Info1("Skipping checks for %s of %s", what, c.App)
		}
		return nil
	}
}

func checksRun(c *Ctx) error {
	types, err := checkTypes(c)
	if err != nil {
		return err
	}
	_, err = api.ChecksRun.Stream(c, c.API, api.ChecksRequest{App: c.App, Types: types}, c.Output())
	return err
}

func checksReport(c *Ctx) error {
	res, err := api.PropertiesReport.Call(c, c.API, api.PropertyReport{Scope: api.Scope{App: c.App, Global: c.Global}, Namespace: "checks"})
	if err != nil {
		return err
	}
	none := func(v string) string {
		if v == "" {
			return "none"
		}
		return v
	}
	if c.Global {
		// Dokku's global report: the global values and what applies.
		return c.Report("checks", c.ReportSubject()+" checks information", []Field{
			{"computed-wait-to-retire", res.Computed["wait-to-retire"]},
			{"global-wait-to-retire", res.Global["wait-to-retire"]},
			{"computed-default-uptime-seconds", res.Computed["default-uptime-seconds"]},
			{"global-default-uptime-seconds", res.Global["default-uptime-seconds"]},
			{"computed-drain-timeout", res.Computed["drain-timeout"]},
			{"global-drain-timeout", res.Global["drain-timeout"]},
		})
	}
	fields := []Field{
		{"disabled-list", none(res.App["disabled"])},
		{"skipped-list", none(res.App["skipped"])},
		{"computed-wait-to-retire", res.Computed["wait-to-retire"]},
		{"global-wait-to-retire", res.Global["wait-to-retire"]},
		{"wait-to-retire", res.App["wait-to-retire"]},
		{"computed-default-uptime-seconds", res.Computed["default-uptime-seconds"]},
		{"computed-drain-timeout", res.Computed["drain-timeout"]},
	}
	return c.Report("checks", c.App+" checks information", fields)
}
