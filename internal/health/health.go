// Package health runs the startup health checks of one new container during a
// deploy, as Dokku's zero-downtime checks do: app.json "healthchecks" (or a
// CHECKS file converted by appfile.Checks.ToHealthchecks), or, when a process
// type declares no startup checks, the default uptime check.
//
// The package is pure logic over the Container interface, so it is tested
// without Docker; the deploy adapts its engine to Container.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/appfile"
)

// Container is what checks need from one container.
type Container interface {
	// Name labels the container in messages, e.g. "web.1".
	Name() string
	// HostPort is the container's web port as published on 127.0.0.1, or 0
	// if it publishes none.
	HostPort() int
	// State reports whether the container runs, how often it restarted,
	// and since when it runs.
	State(ctx context.Context) (running bool, restarts int, startedAt time.Time, err error)
	// Exec runs cmd inside the container and returns its exit code and
	// combined output.
	Exec(ctx context.Context, cmd []string) (code int, output string, err error)
}

// Addresser is a Container whose web port is reached at an address of its
// own (HOST:PORT) rather than 127.0.0.1:HostPort: a Swarm task published
// on its node.
type Addresser interface {
	Addr() string
}

// Result is the outcome of one check.
type Result struct {
	// Check is the check that ran, with defaults filled in
	// (appfile.Healthcheck.WithDefaults).
	Check appfile.Healthcheck
	// Passed reports whether the check passed.
	Passed bool
	// Warned reports that the check failed but has warn: true, so the
	// failure does not fail the deploy.
	Warned bool
	// Detail is what the check got on its last attempt, on one line, e.g.
	// "GET /health: 500 Internal Server Error", "GET /: 200 OK, body lacks
	// \"ok\"", "GET /: connection refused", "exited 3: <output tail>",
	// "restarted 2 times" or "container not running".
	Detail string
	// Attempts is the number of attempts made (0 when the check failed
	// before its first attempt, e.g. on a stopped container).
	Attempts int
	// Request is, for a path check that made a request, the URL it
	// requested and the Host header it sent, e.g.
	// "http://127.0.0.1:32768/ with Host: www.example.com".
	Request string
}

// RunOptions adjust RunWith. Run uses DefaultUptime = appfile.DefaultUptime
// seconds and the zero value of the other fields.
type RunOptions struct {
	// DefaultUptime is the uptime the default check requires when the
	// container has no startup checks of its own (Dokku's
	// DOKKU_DEFAULT_CHECKS_WAIT). It is taken as given, not scaled by
	// Second, and zero (or less) is honoured: the default check then only
	// requires the container to be running without restarts. Run passes
	// appfile.DefaultUptime seconds.
	DefaultUptime time.Duration
	// Second is the unit of the checks' durations (initialDelay, wait,
	// timeout, uptime), which appfile stores as whole seconds. Zero means
	// time.Second; tests use milliseconds.
	Second time.Duration
	// WebPort is the container port that HostPort publishes (the web
	// process's $PORT). When it is set, path and listening checks whose
	// Port names another port fail at once, since only the web port is
	// reachable. Zero means unknown: Port is then not compared.
	WebPort int
	// Host is the Host header of path checks that set none of their own
	// in httpHeaders (a relative CHECKS path like "/", an app.json path
	// check without a Host header); the deploy passes the app's first
	// domain, as Dokku does, so an app that checks the Host (Django's
	// ALLOWED_HOSTS) answers. A check's own Host (CHECKS "//host/path" or
	// "http://host/path") is kept. Empty means the address the check
	// connects to, 127.0.0.1:PORT (Dokku, for an app without a domain,
	// sends the container's IP:PORT).
	Host string
}

// Error is the error Run returns when a check fails (and does not only
// warn). Its message is one line.
type Error struct {
	// Container is the container's name, e.g. "web.1".
	Container string
	// Check names the failed check: its quoted name, or else its path,
	// quoted command, "uptime" or "listening".
	Check string
	// Attempts is the number of attempts made.
	Attempts int
	// Detail is what the last attempt got.
	Detail string
	// Request is Result.Request: for a path check, the URL and Host it
	// sent ("" otherwise).
	Request string
	// Result is the failed check's result.
	Result Result
}

// Error returns e.g. "web.1: check /health failed after 3 attempts: 503
// Service Unavailable (sent to http://127.0.0.1:32768/health with Host:
// www.example.com)".
func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: check %s failed: %s", e.Container, e.Check, e.Detail)
	if e.Attempts > 1 {
		msg = fmt.Sprintf("%s: check %s failed after %d attempts: %s", e.Container, e.Check, e.Attempts, e.Detail)
	}
	if e.Request != "" {
		msg += " (sent to " + e.Request + ")"
	}
	return msg
}

// Run runs the startup checks of container c as RunWith does, with Dokku's
// default uptime (appfile.DefaultUptime seconds) for a container without
// startup checks, and real seconds.
func Run(ctx context.Context, c Container, checks []appfile.Healthcheck, out io.Writer) ([]Result, error) {
	return RunWith(ctx, c, checks, RunOptions{DefaultUptime: appfile.DefaultUptime * time.Second}, out)
}

// RunWith runs the startup checks of container c (those of type "startup"
// or no type; liveness and readiness checks are skipped) one after the
// other, in order. When there are none (checks is empty, or holds only
// liveness and readiness checks) it runs appfile.DefaultHealthcheck with
// opts.DefaultUptime as its uptime. Before them all, a web container (one
// that publishes opts.WebPort) that is a SocketLister gets Dokku's port
// listening check (DefaultListeningCheck, see socketCheck), with Dokku's
// start and failure lines; when its sockets prove unreadable
// (ErrSocketsUnavailable) one line says so and the check is skipped.
//
// Each check first sleeps its initialDelay, then makes up to attempts
// attempts, waiting wait between them; each attempt of a path, command or
// listening check is bounded by timeout:
//
//   - a path check GETs scheme://127.0.0.1:HostPort/path, with the check's
//     httpHeaders (a "Host" header, else opts.Host, sets the request's
//     host, and the TLS server name for https, whose certificate is not
//     verified: it is the container's own). It passes on a 2xx status whose body (its first
//     MiB) holds Content. Redirects are followed only while they stay on
//     127.0.0.1:HostPort; any other 3xx fails. Proxy settings of the
//     environment are ignored.
//   - a command check runs Command with Exec and passes on exit code 0.
//   - a listening check of a SocketLister reads the container's sockets:
//     it passes when its Port (else opts.WebPort) is listened on on
//     0.0.0.0 or ::, or on the container's own address (ListeningProblem
//     says what is wrong otherwise). Without a SocketLister it passes when
//     127.0.0.1:HostPort accepts a TCP connection that is not closed at
//     once (Docker's userland proxy accepts on the published port, then
//     closes the connection when nothing listens in the container).
//   - an uptime check passes once the container has run Uptime seconds
//     since its start without restarting; it polls State and ignores
//     attempts, wait and timeout. It fails at once when the container
//     restarted (restarts > 0, or it started again meanwhile).
//
// Before every attempt, and while it sleeps, RunWith polls State: once the
// container is not running, the current check and all later ones fail at
// once with its state in Detail, and warn does not excuse these failures.
// A path check, or a listening check that dials, fails at once when c
// publishes no port, or when its Port differs from opts.WebPort (when set).
//
// RunWith writes one progress line per check, when it starts, and one per
// failed attempt (e.g. "       web.1: /health (attempt 1/3): 503 Service
// Unavailable") to out, which may be nil. It stops at the first check that
// fails without warn: it returns the results so far, that one included,
// and an *Error naming the container, the check and what its last attempt
// got, on one line; for a path check, the last attempt's line and the
// error also give the URL requested and the Host sent. When ctx ends it returns promptly with the results of
// the finished checks and an error wrapping ctx.Err().
func RunWith(ctx context.Context, c Container, checks []appfile.Healthcheck, opts RunOptions, out io.Writer) ([]Result, error) {
	if out == nil {
		out = io.Discard
	}
	unit := opts.Second
	if unit <= 0 {
		unit = time.Second
	}
	poll := min(max(unit/4, time.Millisecond), 250*time.Millisecond)
	r := &runner{c: c, name: oneLine(c.Name(), 80), out: out, unit: unit, poll: poll, webPort: opts.WebPort, host: opts.Host}
	r.lister, _ = c.(SocketLister)

	plans := r.plan(checks, opts.DefaultUptime)
	var results []Result
	for i, p := range plans {
		if err := ctx.Err(); err != nil {
			return results, r.interrupted(err)
		}
		res, err := r.run(ctx, p)
		if err != nil {
			return results, r.interrupted(err)
		}
		if p.dokku && !res.Passed && r.stopped != "" && i+1 < len(plans) {
			// The container stopped during the port listening check:
			// the checks that follow fail on that, as they would
			// without it, and name the check that failed.
			continue
		}
		results = append(results, res)
		if r.stopped != "" {
			// The container is gone: every later check fails at once.
			for _, q := range plans[i+1:] {
				fmt.Fprintf(r.out, "       %s: %s: %s\n", r.name, q.label, r.stopped)
				results = append(results, Result{Check: q.check, Detail: r.stopped})
			}
		}
		if !res.Passed && !res.Warned {
			return results, &Error{Container: r.name, Check: p.label, Attempts: res.Attempts, Detail: p.short(res.Detail), Request: res.Request, Result: res}
		}
	}
	return results, nil
}

// Liveness returns the first liveness path check of a process type's
// checks, with defaults filled in, for the proxy to probe; nil if there is
// none.
func Liveness(checks []appfile.Healthcheck) *appfile.Healthcheck {
	for _, h := range checks {
		if h.Type == appfile.HealthcheckLiveness && h.Kind() == appfile.PathCheck {
			d := h.WithDefaults()
			return &d
		}
	}
	return nil
}

// plan is one check to run.
type plan struct {
	check  appfile.Healthcheck // with defaults
	label  string              // how messages name it
	uptime time.Duration       // for uptime checks
	// dokku marks the port listening check put before a web container's
	// checks: its start and failure lines are Dokku's.
	dokku bool
}

// short returns detail without its "GET /path: " prefix when the label is
// the path already, for messages that name the check.
func (p plan) short(detail string) string {
	if p.check.Name == "" && p.check.Kind() == appfile.PathCheck {
		return strings.TrimPrefix(detail, "GET "+p.label+": ")
	}
	return detail
}

// runner runs the checks of one container.
type runner struct {
	c       Container
	name    string
	out     io.Writer
	unit    time.Duration // one check "second"
	poll    time.Duration // how often State is polled while waiting
	webPort int
	host    string // RunOptions.Host
	// lister reads the container's sockets; nil when the container is no
	// SocketLister, or once they proved unreadable.
	lister SocketLister
	// stopped is set, to the container's state, once it is seen not
	// running.
	stopped string
}

// errStopped is returned by runner methods once the container stopped.
var errStopped = errors.New("container stopped")

func (r *runner) seconds(n *int) time.Duration {
	if n == nil || *n <= 0 {
		return 0
	}
	return time.Duration(*n) * r.unit
}

// plan returns the startup checks to run, with defaults filled in, or the
// default uptime check.
func (r *runner) plan(checks []appfile.Healthcheck, defaultUptime time.Duration) []plan {
	var plans []plan
	// A web container whose sockets can be read must first listen on its
	// port on every interface, as in Dokku (which appends this check to
	// the others, warn-only): first, because its message explains what
	// the checks after it would only see as refused connections.
	if r.lister != nil && r.webPort > 0 && r.c.HostPort() > 0 {
		h := DefaultListeningCheck(r.webPort)
		plans = append(plans, plan{check: h, label: label(h), dokku: true})
	}
	own := len(plans)
	for _, h := range checks {
		if h.Type != "" && h.Type != appfile.HealthcheckStartup {
			continue
		}
		h = h.WithDefaults()
		plans = append(plans, plan{check: h, label: label(h), uptime: time.Duration(h.Uptime) * r.unit})
	}
	if len(plans) > own {
		return plans
	}
	h := appfile.DefaultHealthcheck()
	up := max(defaultUptime, 0)
	h.Uptime = int((up + r.unit - 1) / r.unit) // whole "seconds", rounded up
	return append(plans, plan{check: h, label: label(h), uptime: up})
}

// label names a check in messages: its quoted name, or else what it does.
func label(h appfile.Healthcheck) string {
	if h.Name != "" {
		return strconv.Quote(oneLine(h.Name, 60))
	}
	switch h.Kind() {
	case appfile.PathCheck:
		return oneLine(h.Path, 100)
	case appfile.CommandCheck:
		return strconv.Quote(oneLine(commandString(h.Command), 60))
	case appfile.ListeningCheck:
		return "listening"
	default:
		return "uptime"
	}
}

// commandString shows argv as typed: the script of ["/bin/sh", "-c", s],
// else the words joined by spaces.
func commandString(argv []string) string {
	if len(argv) == 3 && (argv[0] == "/bin/sh" || argv[0] == "sh") && argv[1] == "-c" {
		return argv[2]
	}
	return strings.Join(argv, " ")
}

func (r *runner) interrupted(err error) error {
	return fmt.Errorf("%s: health checks interrupted: %w", r.name, err)
}

// run runs one check. Its error is non-nil only when ctx ended.
func (r *runner) run(ctx context.Context, p plan) (Result, error) {
	h := p.check
	res := Result{Check: h}
	if r.stopped != "" {
		res.Detail = r.stopped
		return res, nil
	}
	var err error
	kind := h.Kind()
	sockets := kind == appfile.ListeningCheck && r.readsSockets(ctx, h)
	if p.dokku && !sockets {
		res.Passed, res.Detail = true, "not checked: the container's sockets cannot be read"
		return res, nil
	}
	r.start(p)

	if kind == appfile.PathCheck || kind == appfile.ListeningCheck && !sockets {
		if why := r.unreachable(h); why != "" {
			return r.fail(p, res, why), nil
		}
	}
	delay := r.seconds(h.InitialDelay)
	if h.DefaultDelay && kind == appfile.PathCheck {
		// Dokku's default CHECKS WAIT, which the app did not ask for:
		// it ends as soon as the check would pass (earlyPass).
		err = r.earlyPass(ctx, delay, r.pathCheck(h))
	} else {
		err = r.pause(ctx, delay)
	}
	if err != nil {
		return r.cut(p, res, err)
	}
	switch kind {
	case appfile.UptimeCheck:
		return r.uptime(ctx, p)
	case appfile.PathCheck:
		return r.attempts(ctx, p, "GET "+oneLine(h.Path, 100), r.request(h), r.pathCheck(h))
	case appfile.CommandCheck:
		return r.attempts(ctx, p, "", "", r.commandCheck(h))
	case appfile.ListeningCheck:
		if !sockets {
			return r.attempts(ctx, p, "", "", r.listeningCheck())
		}
		res, err := r.attempts(ctx, p, "", "", r.socketCheck(r.lister, r.checkPort(h)))
		if err == nil && p.dokku && !res.Passed && r.stopped == "" {
			fmt.Fprintf(r.out, "       %s: Failure in name='%s': %s\n", r.name, h.Name, res.Detail)
		}
		return res, err
	}
	return res, fmt.Errorf("unknown check kind %q", kind)
}

// checkPort is the container port a check looks at: its own, else the web
// port.
func (r *runner) checkPort(h appfile.Healthcheck) int {
	if h.Port > 0 {
		return h.Port
	}
	return r.webPort
}

// readsSockets reports whether listening check h reads the container's
// sockets. When they prove unreadable it says so once, on one line, and
// listening checks fall back to dialing the published port.
func (r *runner) readsSockets(ctx context.Context, h appfile.Healthcheck) bool {
	if r.lister == nil || r.checkPort(h) <= 0 {
		return false
	}
	_, err := r.lister.ListeningSockets(ctx)
	if err == nil || !errors.Is(err, ErrSocketsUnavailable) {
		return true
	}
	fmt.Fprintf(r.out, "       %s: %s: port listening checks are skipped and listening checks dial the published port\n", r.name, oneLine(err.Error(), 200))
	r.lister = nil
	return false
}

// start writes the progress line of a check that starts.
func (r *runner) start(p plan) {
	h := p.check
	var what string
	switch h.Kind() {
	case appfile.UptimeCheck:
		what = fmt.Sprintf("waiting for %s of uptime", p.uptime)
		if h.Name != "" {
			what = fmt.Sprintf("checking %s: %s", p.label, what)
		}
	case appfile.PathCheck:
		what = "checking " + p.label
		if h.Name != "" {
			what += " (GET " + oneLine(h.Path, 100)
			if host := r.checkHost(h); host != "" {
				what += ", Host: " + oneLine(host, 100)
			}
			what += ")"
		}
	case appfile.CommandCheck:
		what = "checking " + p.label
		if h.Name != "" {
			what += " (" + strconv.Quote(oneLine(commandString(h.Command), 60)) + ")"
		}
	default:
		if p.dokku {
			fmt.Fprintf(r.out, "       %s: %s\n", r.name, dokkuLine(h))
			return
		}
		what = "checking " + p.label
		if h.Name != "" {
			what += " (listening)"
		}
	}
	if n := r.seconds(h.InitialDelay); n > 0 && h.DefaultDelay && h.Kind() == appfile.PathCheck {
		what += fmt.Sprintf(", within %s (as soon as it answers)", n)
	} else if n > 0 {
		what += fmt.Sprintf(", after %s", n)
	}
	fmt.Fprintf(r.out, "       %s: %s\n", r.name, what)
}

// unreachable says why a path or listening check cannot reach its port, or
// returns "".
func (r *runner) unreachable(h appfile.Healthcheck) string {
	if r.webPort > 0 && h.Port > 0 && h.Port != r.webPort {
		return fmt.Sprintf("port %d cannot be checked: only the web port %d is published", h.Port, r.webPort)
	}
	if r.c.HostPort() <= 0 {
		return "no published port to check (only web containers publish one)"
	}
	return ""
}

// fail ends a check that failed with detail, writing its progress line.
func (r *runner) fail(p plan, res Result, detail string) Result {
	res.Detail = detail
	res.Warned = p.check.Warn && r.stopped == ""
	line := p.short(detail)
	if res.Warned {
		line += " (warn only)"
	}
	fmt.Fprintf(r.out, "       %s: %s: %s\n", r.name, p.label, line)
	return res
}

// cut ends a check interrupted by err, from pause or state: a stopped
// container fails it, an ended ctx is returned.
func (r *runner) cut(p plan, res Result, err error) (Result, error) {
	if errors.Is(err, errStopped) {
		return r.fail(p, res, r.stopped), nil
	}
	return res, err
}
