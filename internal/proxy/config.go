package proxy

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Config says where the proxy listens and how it treats requests.
type Config struct {
	HTTPAddr      string // e.g. ":80", "127.0.0.1:0"
	HTTPSAddr     string // TLS, e.g. ":443"; empty: none. Certificates come with routes (Route.TLS)
	ControlSocket string // unix socket (mode 0600) for the daemon
	// ControlAddr, when set (HOST:PORT), also serves the control API over
	// TCP with mutual TLS (remote.go): the proxy of a cluster node, driven
	// by the manager's daemon. ControlTLS is its TLS configuration
	// (LoadServerTLS), required with it.
	ControlAddr string
	ControlTLS  *tls.Config
	// StateFile is where routes are persisted (JSON, written atomically); a
	// restarted proxy serves them at once. Empty: routes live in memory only.
	StateFile string
	Log       *slog.Logger
	// AccessLog logs one line per request: method, host, path (no query),
	// status, bytes, duration, app, target, request id.
	AccessLog         bool
	MaxBodyBytes      int64         // default 100 MiB; -1: no limit
	UpstreamTimeout   time.Duration // time to response headers, default 60 s
	IdleTimeout       time.Duration // client keep-alive idle, default 120 s
	ReadHeaderTimeout time.Duration // default 10 s
	ShutdownTimeout   time.Duration // drain on SIGTERM, default 30 s
	// NoFastPath sends every request through httputil.ReverseProxy, also
	// the plain HTTP/1.x ones the fast path (fastpath.go) would take
	// (BERTH_PROXY_FASTPATH=0): to compare the two, or to rule it out.
	NoFastPath bool
	// NoH1Loop serves plain-HTTP connections with net/http's server
	// instead of the proxy's own HTTP/1.1 loop (h1conn.go;
	// BERTH_PROXY_H1LOOP=0). The loop needs the fast path.
	NoH1Loop bool
	// NoMetrics turns the request counters off (BERTH_PROXY_METRICS=off):
	// to measure what they cost (metrics.go).
	NoMetrics bool
	Ready     func(httpAddr string) // called once listening
	// Version is reported by Status, so the daemon can tell an old proxy.
	Version string // default "dev"
	// Build identifies the binary (default: ExecutableID), reported by
	// Status: the daemon hands over to a new proxy when it differs.
	Build string
	// TakeOver makes Run take the listening sockets and the routes from
	// the proxy answering on ControlSocket (an upgrade; see handover.go),
	// which then finishes its requests and exits. With none answering, Run
	// starts as usual.
	TakeOver bool
	// afterInherit, when set (tests), runs in a proxy taking over once it
	// has the sockets and the routes, before it serves them; an error
	// aborts the hand-over as a crash there would.
	afterInherit func() error
}

// Defaults for Config fields left zero.
const (
	DefaultMaxBodyBytes      = 100 << 20
	DefaultUpstreamTimeout   = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	} else if c.MaxBodyBytes < 0 {
		c.MaxBodyBytes = -1
	}
	if c.UpstreamTimeout <= 0 {
		c.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Build == "" {
		c.Build = ExecutableID()
	}
	return c
}
