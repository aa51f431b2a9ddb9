package appfile

import "slices"

// Healthcheck types (the "type" field): when a check runs.
const (
	// HealthcheckStartup checks run on deploy, before traffic is switched
	// to new containers. It is the default.
	HealthcheckStartup = "startup"
	// HealthcheckLiveness checks run while the container serves.
	HealthcheckLiveness = "liveness"
	// HealthcheckReadiness checks decide whether the container gets
	// traffic.
	HealthcheckReadiness = "readiness"
)

// Dokku's defaults for a healthcheck's settings, from
// docker-container-healthchecker (the checker Dokku 0.31+ runs; its
// file-format documentation and appjson.Healthcheck getters).
const (
	DefaultAttempts     = 3      // attempts before the check fails
	DefaultTimeout      = 5      // seconds before one attempt times out
	DefaultWait         = 5      // seconds between attempts
	DefaultInitialDelay = 0      // seconds before the first attempt
	DefaultScheme       = "http" // scheme of path checks
	// DefaultUptime is the uptime check Dokku runs for a process type that
	// declares no checks: the container must stay up this many seconds
	// without restarting (DOKKU_DEFAULT_CHECKS_WAIT).
	DefaultUptime = 10
)

// CheckKind is what a healthcheck looks at.
type CheckKind int

// The kinds of check. A check is exactly one of them; ParseAppJSON refuses
// checks that mix them.
const (
	// UptimeCheck passes when the container has been running for Uptime
	// seconds without restarts. It is the kind of a check that sets none
	// of Path, Command and Listening.
	UptimeCheck CheckKind = iota
	// PathCheck passes when an HTTP GET of Path answers with a 2xx status
	// (and Content in the body, if set).
	PathCheck
	// CommandCheck passes when Command, run in the container, exits 0.
	CommandCheck
	// ListeningCheck passes when a process in the container listens on
	// Port on all interfaces.
	ListeningCheck
)

// String returns the kind's name as used in messages: "uptime", "path",
// "command" or "listening".
func (k CheckKind) String() string {
	switch k {
	case PathCheck:
		return "path"
	case CommandCheck:
		return "command"
	case ListeningCheck:
		return "listening"
	default:
		return "uptime"
	}
}

// HTTPHeader is a header sent with a path check's request.
type HTTPHeader struct {
	Name  string
	Value string
}

// Healthcheck is one check from app.json "healthchecks" (or converted from a
// CHECKS file). Numbers are seconds unless said otherwise. Fields that have a
// Dokku default are pointers, nil when the file does not set them; use
// WithDefaults to get the values a check runner needs.
type Healthcheck struct {
	// Type is "startup", "liveness" or "readiness"; empty means startup.
	Type string
	// Name labels the check in output; may be empty.
	Name string
	// Path makes this a path check: the HTTP path to GET, starting with "/".
	Path string
	// Content, if set, must appear in a path check's response body.
	Content string
	// Attempts is how many times the check is tried before it fails.
	// Nil or 0 means DefaultAttempts (0 is Dokku's "unset").
	Attempts *int
	// Timeout bounds each attempt. Nil or 0 means DefaultTimeout.
	Timeout *int
	// Wait is the pause between attempts. Nil means DefaultWait; 0 is
	// honoured.
	Wait *int
	// InitialDelay is the pause before the first attempt. Nil means
	// DefaultInitialDelay.
	InitialDelay *int
	// DefaultDelay marks an InitialDelay the app did not choose: a CHECKS
	// file without WAIT gets Dokku's default of DefaultWait seconds. A
	// check runner may end such a delay early once the check would pass
	// (see health.RunWith); a delay the app set is always waited out.
	DefaultDelay bool
	// Port is the container port for path and listening checks; 0 means
	// the port the process listens on ($PORT, 5000 unless EXPOSE says
	// otherwise), which only the deploy knows.
	Port int
	// Scheme is "http" or "https" for path checks; empty means http.
	Scheme string
	// HTTPHeaders are sent with a path check's request, e.g. Host.
	HTTPHeaders []HTTPHeader
	// Command makes this a command check: the argv run in the container.
	// In app.json a plain string is accepted too and stored as
	// ["/bin/sh", "-c", string].
	Command []string
	// Uptime is the number of seconds an uptime check wants the container
	// to have been running without restarts.
	Uptime int
	// Listening makes this a listening check.
	Listening bool
	// Warn turns a failure of this check into a warning.
	Warn bool
}

// Kind reports which kind of check h is.
func (h Healthcheck) Kind() CheckKind {
	switch {
	case h.Listening:
		return ListeningCheck
	case len(h.Command) > 0:
		return CommandCheck
	case h.Path != "":
		return PathCheck
	default:
		return UptimeCheck
	}
}

// WithDefaults returns a copy of h with Dokku's defaults filled in: Type
// "startup", Attempts 3, Timeout 5, Wait 5, InitialDelay 0 and Scheme "http".
// Every pointer of the result is non-nil, and the result shares no memory
// with h. Name and Port are left as they are (see their comments).
func (h Healthcheck) WithDefaults() Healthcheck {
	out := h
	if out.Type == "" {
		out.Type = HealthcheckStartup
	}
	if out.Scheme == "" {
		out.Scheme = DefaultScheme
	}
	out.Attempts = intOr(h.Attempts, DefaultAttempts, true)
	out.Timeout = intOr(h.Timeout, DefaultTimeout, true)
	out.Wait = intOr(h.Wait, DefaultWait, false)
	out.InitialDelay = intOr(h.InitialDelay, DefaultInitialDelay, false)
	out.HTTPHeaders = slices.Clone(h.HTTPHeaders)
	out.Command = slices.Clone(h.Command)
	return out
}

// intOr returns a new pointer to *p, or to def when p is nil (or points to
// a value <= 0 and zeroIsUnset).
func intOr(p *int, def int, zeroIsUnset bool) *int {
	v := def
	if p != nil && (*p > 0 || !zeroIsUnset && *p == 0) {
		v = *p
	}
	return &v
}

// DefaultHealthcheck returns the check Dokku runs for a process type without
// checks of its own: a startup uptime check of DefaultUptime seconds, with
// defaults filled in.
func DefaultHealthcheck() Healthcheck {
	return Healthcheck{Name: "default", Uptime: DefaultUptime}.WithDefaults()
}
