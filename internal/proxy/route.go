package proxy

import (
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Target is one backend: a web container's published port.
type Target struct {
	Addr      string `json:"addr"`      // "127.0.0.1:32768"
	Container string `json:"container"` // name, for logs and pages
}

// Liveness keeps probing targets; a target failing Failures probes in a row
// leaves rotation until Successes probes pass.
type Liveness struct {
	Path      string        `json:"path"`
	Host      string        `json:"host,omitempty"`    // Host header for the probe
	Content   string        `json:"content,omitempty"` // substring the body must hold
	Interval  time.Duration `json:"interval"`          // default 5 s
	Timeout   time.Duration `json:"timeout"`           // default 2 s
	Failures  int           `json:"failures"`          // default 3
	Successes int           `json:"successes"`         // default 1
}

// Liveness defaults, used where a field is zero.
const (
	DefaultLivenessInterval  = 5 * time.Second
	DefaultLivenessTimeout   = 2 * time.Second
	DefaultLivenessFailures  = 3
	DefaultLivenessSuccesses = 1
)

func (l Liveness) withDefaults() Liveness {
	if l.Path == "" {
		l.Path = "/"
	}
	if l.Interval == 0 {
		l.Interval = DefaultLivenessInterval
	}
	if l.Timeout == 0 {
		l.Timeout = DefaultLivenessTimeout
	}
	if l.Failures == 0 {
		l.Failures = DefaultLivenessFailures
	}
	if l.Successes == 0 {
		l.Successes = DefaultLivenessSuccesses
	}
	return l
}

// Route maps an app's host names to its live targets.
type Route struct {
	App string `json:"app"`
	// Release is the app's live release, which the proxy's request
	// counters are kept by (0: none deployed).
	Release  int       `json:"release,omitempty"`
	Hosts    []string  `json:"hosts"` // "shop.example.com", "*.example.com" (one label), lower-case
	Targets  []Target  `json:"targets"`
	Liveness *Liveness `json:"liveness,omitempty"`
	// MaxBodyBytes limits request bodies: 0 is Config.MaxBodyBytes, -1 is no limit.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// UpstreamTimeout is the time a target has to send response headers;
	// 0 is Config.UpstreamTimeout.
	UpstreamTimeout time.Duration `json:"upstream_timeout,omitempty"`
	// TLS serves the route's hosts (and its redirects' From hosts) on the
	// HTTPS listener. Nil: HTTP only.
	TLS *RouteTLS `json:"tls,omitempty"`
	// Redirects send requests for other host names elsewhere (Dokku's
	// redirect plugin). Their From hosts are claimed like Hosts.
	Redirects []Redirect `json:"redirects,omitempty"`
	// Ports are more host ports the route's hosts are served on, beside
	// the proxy's HTTP and HTTPS listeners (Dokku's port maps such as
	// http:8080:5000). The proxy listens on each port some route asks
	// for, on the host address of its HTTP listener.
	Ports []Port `json:"ports,omitempty"`
}

// Port is an extra port a route is served on: plain HTTP, or HTTPS with
// the route's certificate (TLS needs Route.TLS).
type Port struct {
	Port int  `json:"port"`
	TLS  bool `json:"tls,omitempty"`
}

// Redirect sends every request for the host From to the host To, with the
// request's scheme, path and query: "http://old.example.com/a?b" answers
// Code with Location "http://new.example.com/a?b".
type Redirect struct {
	From string `json:"from"`           // a host name as in Route.Hosts ("*.old.example.com" too)
	To   string `json:"to"`             // a host name, optionally with a port
	Code int    `json:"code,omitempty"` // 301 (also when 0), 302, 303, 307 or 308
}

// DefaultRedirectCode is the status of a Redirect whose Code is 0.
const DefaultRedirectCode = 301

// normalizeRoute checks r and returns it in canonical form: host names
// lower-cased without a trailing dot, duplicates removed. Nothing is filled
// with defaults, so what the daemon set is what Routes returns.
func normalizeRoute(r Route) (Route, error) {
	if r.App == "" {
		return r, errInvalid("a route needs an app name")
	}
	if len(r.App) > 255 || !utf8.ValidString(r.App) || strings.ContainsFunc(r.App, func(c rune) bool { return c <= ' ' || c == 0x7f || c == '/' }) {
		return r, errInvalid("invalid app name %q", r.App)
	}
	hosts := make([]string, 0, len(r.Hosts))
	for _, h := range r.Hosts {
		n := strings.TrimSuffix(strings.ToLower(h), ".")
		if !validHostPattern(n) {
			return r, errInvalid("app %s: invalid host name %q", r.App, h)
		}
		if !slices.Contains(hosts, n) {
			hosts = append(hosts, n)
		}
	}
	r.Hosts = hosts
	targets := make([]Target, 0, len(r.Targets))
	for _, t := range r.Targets {
		host, port, err := net.SplitHostPort(t.Addr)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			return r, errInvalid("app %s: invalid target address %q (want host:port)", r.App, t.Addr)
		}
		for _, o := range targets {
			if o.Addr == t.Addr {
				return r, errInvalid("app %s: target %s is listed twice", r.App, t.Addr)
			}
		}
		targets = append(targets, t)
	}
	r.Targets = targets
	if l := r.Liveness; l != nil {
		if l.Path != "" && !strings.HasPrefix(l.Path, "/") {
			return r, errInvalid("app %s: liveness path %q must start with /", r.App, l.Path)
		}
		if strings.ContainsAny(l.Path, " \t\r\n") || strings.ContainsAny(l.Host, " \t\r\n/") {
			return r, errInvalid("app %s: invalid liveness path or host", r.App)
		}
		if l.Interval < 0 || l.Timeout < 0 || l.Failures < 0 || l.Successes < 0 {
			return r, errInvalid("app %s: liveness interval, timeout and counts must not be negative", r.App)
		}
		c := *l
		r.Liveness = &c
	}
	if r.MaxBodyBytes < -1 {
		return r, errInvalid("app %s: max body size %d: use -1 for no limit", r.App, r.MaxBodyBytes)
	}
	if r.UpstreamTimeout < 0 {
		return r, errInvalid("app %s: negative upstream timeout", r.App)
	}
	var redirects []Redirect // nil when none, so that a route set equals its copy read back
	for _, rd := range r.Redirects {
		from := strings.TrimSuffix(strings.ToLower(rd.From), ".")
		to := strings.TrimSuffix(strings.ToLower(rd.To), ".")
		switch {
		case !validHostPattern(from):
			return r, errInvalid("app %s: redirect from invalid host name %q", r.App, rd.From)
		case !validRedirectTarget(to):
			return r, errInvalid("app %s: redirect to invalid host name %q", r.App, rd.To)
		case slices.Contains(hosts, from):
			return r, errInvalid("app %s: host %s is both routed and redirected", r.App, from)
		case matchHost(from, hostOnly(to)):
			return r, errInvalid("app %s: redirect from %s to %s would loop", r.App, from, to)
		}
		switch rd.Code {
		case 0, 301, 302, 303, 307, 308:
		default:
			return r, errInvalid("app %s: redirect code %d (want 301, 302, 303, 307 or 308)", r.App, rd.Code)
		}
		for _, o := range redirects {
			if o.From == from {
				return r, errInvalid("app %s: host %s is redirected twice", r.App, from)
			}
		}
		redirects = append(redirects, Redirect{From: from, To: to, Code: rd.Code})
	}
	r.Redirects = redirects
	var ports []Port // nil when none, as Redirects
	for _, p := range r.Ports {
		switch {
		case p.Port < 1 || p.Port > 65535:
			return r, errInvalid("app %s: invalid port %d", r.App, p.Port)
		case p.TLS && r.TLS == nil:
			return r, errInvalid("app %s: port %d serves HTTPS but the route has no certificate", r.App, p.Port)
		case slices.ContainsFunc(ports, func(o Port) bool { return o.Port == p.Port }):
			return r, errInvalid("app %s: port %d is listed twice", r.App, p.Port)
		}
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Port < ports[j].Port })
	r.Ports = ports
	if r.TLS != nil {
		c := *r.TLS
		c.Uncovered = nil // reported by the proxy, never set
		if c.CertPEM == "" || c.KeyPEM == "" {
			return r, errInvalid("app %s: TLS needs a certificate and its key", r.App)
		}
		if c.HSTS != nil {
			h := *c.HSTS
			if h.MaxAge < 0 {
				return r, errInvalid("app %s: negative HSTS max-age", r.App)
			}
			c.HSTS = &h
		}
		r.TLS = &c
	}
	return r, nil
}

// validRedirectTarget accepts a lower-case host name without wildcard,
// optionally followed by ":port".
func validRedirectTarget(to string) bool {
	host := to
	if h, port, err := net.SplitHostPort(to); err == nil {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
			return false
		}
		host = h
	}
	return !strings.HasPrefix(host, "*.") && validHostPattern(host)
}

// hostOnly strips the port of a redirect target.
func hostOnly(to string) string {
	if h, _, err := net.SplitHostPort(to); err == nil {
		return h
	}
	return to
}

// matchHost reports whether a host pattern (as in Route.Hosts) covers host.
func matchHost(pattern, host string) bool {
	if d, ok := strings.CutPrefix(pattern, "*."); ok {
		i := strings.IndexByte(host, '.')
		return i > 0 && host[i+1:] == d
	}
	return pattern == host
}

// validHostPattern accepts a lower-case DNS name, optionally starting with
// the one-label wildcard "*.".
func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkConflicts refuses a table in which a host pattern belongs to two apps.
func checkConflicts(routes map[string]Route) error {
	owner := make(map[string]string)
	apps := make([]string, 0, len(routes))
	for app := range routes {
		apps = append(apps, app)
	}
	sort.Strings(apps)          // stable messages
	portTLS := map[int]string{} // port -> the first app serving it, with its kind
	for _, app := range apps {
		for _, p := range routes[app].Ports {
			kind := "HTTP"
			if p.TLS {
				kind = "HTTPS"
			}
			if o, ok := portTLS[p.Port]; ok && !strings.HasSuffix(o, " "+kind) {
				return errConflict("port %d is already served as %s for app %s; app %s asked for %s", p.Port, o[strings.LastIndexByte(o, ' ')+1:], o[:strings.LastIndexByte(o, ' ')], app, kind)
			}
			portTLS[p.Port] = app + " " + kind
		}
	}
	for _, app := range apps {
		r := routes[app]
		hosts := slices.Clone(r.Hosts)
		for _, rd := range r.Redirects {
			hosts = append(hosts, rd.From)
		}
		for _, h := range hosts {
			if other, ok := owner[h]; ok {
				return errConflict("host %s is already routed to app %s; remove it there first (app %s asked for it)", h, other, app)
			}
			owner[h] = app
		}
	}
	return nil
}

// table is one immutable snapshot of the routing table. Requests load it
// with one atomic read; the control API builds a new one and swaps it in.
type table struct {
	exact  map[string]*vhost // "shop.example.com"
	wild   map[string]*vhost // "example.com" for "*.example.com"
	apps   map[string]*route
	config map[string]Route // as set, for Routes and the state file
	ports  map[int]bool     // the extra ports of every route: TLS or not

	hashOnce   sync.Once // routesHash, at the first Status that asks
	routesHash string
}

// vhost is what a host name leads to: an app's route, served or redirected.
type vhost struct {
	rt   *route
	to   string // a redirect's target host; "": the route serves the host
	code int    // of the redirect
}

// route is an app's entry in a table: its targets resolved to the shared
// per-address backends.
type route struct {
	app        string
	targets    []*backend
	containers []string // container name of targets[i], for logs
	maxBody    int64    // -1: no limit
	timeout    time.Duration
	ports      []int      // extra ports the route is served on (Route.Ports)
	tls        *routeCert // nil: no TLS
	uncovered  []string   // hosts (and redirect sources) the certificate does not cover
	hsts       string     // Strict-Transport-Security value; "": none
	toHTTPS    bool       // RedirectHTTP (if the proxy has an HTTPS listener)
	next       roundRobin // the only mutable field: where the next pick starts
	meter      *meter     // the request counters of the route's release (metrics.go); nil: off
}

// lookup finds what a host name (lower-case, no port) leads to: an exact
// name first, then a one-label wildcard, whose label may not be empty
// (".example.com" is not covered by "*.example.com", as in matchHost).
func (t *table) lookup(host string) *vhost {
	if v, ok := t.exact[host]; ok {
		return v
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		return t.wild[host[i+1:]]
	}
	return nil
}

// find returns the route requests go to: by app if app is set, else by
// host (nil for a redirected host).
func (t *table) find(host, app string) *route {
	if app != "" {
		return t.apps[app]
	}
	if v := t.lookup(host); v != nil && v.to == "" {
		return v.rt
	}
	return nil
}

// sortedRoutes returns the table's routes ordered by app, as set.
func (t *table) sortedRoutes() []Route {
	out := make([]Route, 0, len(t.config))
	for _, r := range t.config {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out
}

// reportedRoutes is sortedRoutes with what the proxy found out filled in:
// the hosts a route's certificate does not cover (RouteTLS.Uncovered).
func (t *table) reportedRoutes() []Route {
	out := t.sortedRoutes()
	for i, r := range out {
		if rt := t.apps[r.App]; r.TLS != nil && rt != nil && len(rt.uncovered) > 0 {
			c := *r.TLS
			c.Uncovered = slices.Clone(rt.uncovered)
			out[i].TLS = &c
		}
	}
	return out
}

// requestHost returns the host a request is routed by: lower-case, without
// port or trailing dot. It does not allocate for the common lower-case case.
func requestHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.LastIndexByte(h, ']') < i {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// servesPort reports whether the route is served on extra port p.
func (rt *route) servesPort(p int) bool {
	for _, q := range rt.ports {
		if q == p {
			return true
		}
	}
	return false
}
