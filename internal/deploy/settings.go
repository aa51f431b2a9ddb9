package deploy

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/release"
	"github.com/berthpaas/berth/internal/store"
)

// Defaults of the ps and builder settings.
const (
	DefaultRestartPolicy  = "on-failure:10"
	DefaultStopTimeout    = 30
	DefaultProcfilePath   = "Procfile"
	DefaultDockerfilePath = "Dockerfile"
	DefaultAppJSONPath    = "app.json"
	// DefaultUptime is how long a new container must stay up before its
	// release is kept (Dokku's DOKKU_DEFAULT_CHECKS_WAIT): the uptime
	// window, which the watch after the switch covers (watch.go).
	DefaultUptime = 10
)

// settle is how long a new container of a deploy (job.settles) of a type
// without startup checks must stay up before the switch (never longer
// than the uptime window):
// long enough to catch an app that dies as it boots, with one clear error
// from the deploy and no request sent to it. The watch after the switch
// covers the rest of the window, with the old containers kept to take
// the traffic back, so Dokku's 10 s before the switch is not needed for
// safety (docs/proxy.md, "Health checks").
const settle = 2 * time.Second

var restartRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(no|always|unless-stopped|on-failure(:[0-9]+)?)$`) })

func validatePath(v string) error {
	if v == "" || strings.HasPrefix(v, "/") || strings.Contains("/"+v+"/", "/../") {
		return app.Invalidf("Invalid path %q: give a path relative to the source root, without ..", v)
	}
	return nil
}

func init() {
	app.Register(app.Setting{Namespace: "ps", Key: "restart-policy", Scope: app.ScopeBoth, Default: DefaultRestartPolicy, Validate: func(v string) error {
		if !restartRE().MatchString(v) {
			return app.Invalidf("Invalid restart-policy specified: %q; use no, always, unless-stopped, on-failure or on-failure:N", v)
		}
		return nil
	}})
	app.Register(app.Setting{Namespace: "ps", Key: "stop-timeout-seconds", Scope: app.ScopeBoth, Default: strconv.Itoa(DefaultStopTimeout), Validate: func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 3600 {
			return app.Invalidf("Invalid stop-timeout-seconds %q: a whole number of seconds from 0 to 3600", v)
		}
		return nil
	}})
	app.Register(app.Setting{Namespace: "ps", Key: "generation", Scope: app.ScopeApp, Internal: true})
	app.Register(app.Setting{Namespace: "ps", Key: "skip-deploy", Scope: app.ScopeBoth, Default: "false", Validate: app.ValidateBool})
	app.Register(app.Setting{Namespace: "ps", Key: "start-cmd", Scope: app.ScopeApp, Report: app.ReportRaw | app.ReportComputed})
	app.Register(app.Setting{Namespace: "ps", Key: "dockerfile-start-cmd", Scope: app.ScopeApp, Report: app.ReportRaw | app.ReportComputed})
	app.Register(app.Setting{Namespace: "ps", Key: "procfile-path", Scope: app.ScopeBoth, Default: DefaultProcfilePath, Validate: validatePath})
	app.Register(app.Setting{Namespace: "app-json", Key: "appjson-path", Scope: app.ScopeBoth, Default: DefaultAppJSONPath, Validate: validatePath})
	app.Register(app.Setting{Namespace: "builder-dockerfile", Key: "dockerfile-path", Scope: app.ScopeBoth, Default: DefaultDockerfilePath, Validate: validatePath})
	app.Register(app.Setting{Namespace: "checks", Key: "default-uptime-seconds", Scope: app.ScopeBoth, Default: strconv.Itoa(DefaultUptime), Validate: func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 600 {
			return app.Invalidf("Invalid default-uptime-seconds %q: a whole number of seconds from 0 to 600", v)
		}
		return nil
	}})
	seconds := func(max int) func(string) error {
		return func(v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > max {
				return app.Invalidf("Invalid value %q: a whole number of seconds from 0 to %d", v, max)
			}
			return nil
		}
	}
	app.Register(app.Setting{Namespace: "checks", Key: "wait-to-retire", Scope: app.ScopeBoth, Default: "60", Validate: seconds(86400)})
	app.Register(app.Setting{Namespace: "checks", Key: "drain-timeout", Scope: app.ScopeBoth, Default: "30", Validate: seconds(3600)})
	app.Register(app.Setting{Namespace: "checks", Key: "skipped", Scope: app.ScopeApp, Internal: true})
	app.Register(app.Setting{Namespace: "checks", Key: "disabled", Scope: app.ScopeApp, Internal: true})
	app.Register(app.Setting{Namespace: "releases", Key: "keep", Scope: app.ScopeBoth, Default: "5", Validate: func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			return app.Invalidf("Invalid keep %q: a number of releases from 1 to 1000", v)
		}
		return nil
	}})
}

// setting returns the computed value of a setting for app a: the app's,
// else the global one, else the default.
func setting(tx *store.Tx, a store.App, namespace, key string) (string, error) {
	if v, ok, err := tx.Property(a.Scope(), namespace, key); err != nil || ok {
		return v, err
	}
	if v, ok, err := tx.Property(store.Global, namespace, key); err != nil || ok {
		return v, err
	}
	s, _ := app.LookupSettingAny(namespace, key)
	return s.Default, nil
}

// appSettings are the settings a deploy reads, in one transaction.
type appSettings struct {
	// dockerfileStartCmd (ps:set dockerfile-start-cmd) is the command of
	// the process types that run the image's CMD (no Procfile entry).
	dockerfileStartCmd string
	skipDeploy         bool // ps:set skip-deploy: a deploy stops after its release steps

	restartPolicy  string
	stopTimeout    int
	procfilePath   string
	appJSONPath    string
	dockerfilePath string
	buildArgs      []string // KEY or KEY=VALUE from docker-options build --build-arg
	noCache        bool
	buildSkipped   []string          // docker-options build options the build does not apply
	env            map[string]string // global config under app config
	uptime         int               // seconds a container must stay up
	waitToRetire   int               // seconds old containers keep running after the switch
	drainTimeout   int               // seconds the switch waits for requests in flight
	checksSkipped  string            // process types whose checks are skipped ("_all_")
	checksDisabled string            // process types whose checks are disabled ("_all_")
	keepReleases   int
	generation     string           // the live containers' generation
	network        string           // the network the app's containers join
	opts           ContainerOptions // docker-options, mounts, resources (nil: none)
	logMaxSize     string           // logs:set max-size
	scheduler      string           // scheduler:set selected
	constraints    []string         // scheduler-swarm:set constraint
}

// checksOff reports whether typ's checks are skipped or disabled.
func (s appSettings) checksOff(typ string) bool {
	for _, list := range []string{s.checksSkipped, s.checksDisabled} {
		for _, t := range strings.Split(list, ",") {
			if t == typ || t == "_all_" {
				return true
			}
		}
	}
	return false
}

// checksDisabledFor reports whether typ's checks are disabled: its old
// containers stop before the new ones start (no zero-downtime).
func (s appSettings) checksDisabledFor(typ string) bool {
	for _, t := range strings.Split(s.checksDisabled, ",") {
		if t == typ || t == "_all_" {
			return true
		}
	}
	return false
}

func (d *Deployer) settings(ctx context.Context, a store.App) (appSettings, error) {
	var s appSettings
	var err error
	if s.opts, err = d.containerOptions(ctx, a.Name); err != nil {
		return s, err
	}
	if d.networkFor != nil {
		var err error
		if s.network, err = d.networkFor(ctx, a.Name); err != nil {
			return s, err
		}
	}
	err = d.store.Tx(ctx, func(tx *store.Tx) error {
		get := func(ns, key string) string {
			v, err := setting(tx, a, ns, key)
			if err != nil {
				panic(err)
			}
			return v
		}
		s.restartPolicy = get("ps", "restart-policy")
		s.stopTimeout, _ = strconv.Atoi(get("ps", "stop-timeout-seconds"))
		s.procfilePath = get("ps", "procfile-path")
		s.logMaxSize = get("logs", "max-size")
		s.scheduler = get("scheduler", "selected")
		s.constraints = splitConstraints(get("scheduler-swarm", "constraint"))
		s.appJSONPath = get("app-json", "appjson-path")
		s.uptime, _ = strconv.Atoi(get("checks", "default-uptime-seconds"))
		s.waitToRetire, _ = strconv.Atoi(get("checks", "wait-to-retire"))
		s.drainTimeout, _ = strconv.Atoi(get("checks", "drain-timeout"))
		s.checksSkipped = get("checks", "skipped")
		s.checksDisabled = get("checks", "disabled")
		s.keepReleases, _ = strconv.Atoi(get("releases", "keep"))
		s.dockerfileStartCmd = get("ps", "dockerfile-start-cmd")
		s.skipDeploy = get("ps", "skip-deploy") == "true"
		s.generation, _, _ = tx.Property(a.Scope(), "ps", "generation")
		s.dockerfilePath = get("builder-dockerfile", "dockerfile-path")
		s.buildArgs, s.noCache, s.buildSkipped = app.BuildOptions(get("docker-options", "build"))
		global, err := tx.Config(store.Global)
		if err != nil {
			return err
		}
		appVars, err := tx.Config(a.Scope())
		if err != nil {
			return err
		}
		for k, v := range appVars {
			global[k] = v
		}
		s.env = global
		return nil
	})
	return s, err
}

// archiveLimits are git:from-archive's bounds: git:set --global
// archive-max-files and archive-max-size (their defaults are registered
// with the git settings).
func (d *Deployer) archiveLimits(ctx context.Context) (release.Limits, error) {
	var l release.Limits
	err := d.store.Tx(ctx, func(tx *store.Tx) error {
		get := func(key string) (int64, error) {
			v, ok, err := tx.Property(store.Global, "git", key)
			if err != nil {
				return 0, err
			}
			if !ok {
				s, _ := app.LookupSettingAny("git", key)
				v = s.Default
			}
			if v == "" {
				return 0, nil
			}
			return strconv.ParseInt(v, 10, 64)
		}
		files, err := get("archive-max-files")
		if err != nil {
			return err
		}
		l.Files = int(files)
		l.Bytes, err = get("archive-max-size")
		return err
	})
	return l, err
}
