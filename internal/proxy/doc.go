// Package proxy is Berth's reverse proxy: the small long-lived process
// (`berth serve-proxy`) that holds the HTTP and HTTPS listeners and the routing
// table, so that restarting or crashing the daemon drops no request. It
// routes requests by host name to the web containers of apps, persists its
// table, and takes changes from the daemon over a unix control socket
// (Client).
//
// # Request path
//
// A request reads the live table with one atomic load (table is immutable;
// the control side builds a new one and swaps the pointer), looks its host
// up (exact name, then a one-label "*.domain"), picks a target and counts
// itself in on it. Targets are picked healthy first, then by fewest requests
// in flight, ties round robin. The only shared writes are atomics: the
// target's in-flight counter and the route's round-robin cursor. After
// counting in, the request checks that the table did not change in between;
// if it did, it picks again, so that a Drain that saw a swapped-out target
// idle can trust it stays idle.
//
// Plain HTTP/1.x requests (no upgrade, no Expect, no body or a body of up
// to 64 KiB with a Content-Length) take the fast path (fastpath.go): the
// handler writes the request to a pooled keep-alive connection of the
// target itself and copies the response back, with the same header
// rewrites, timeouts, retries and error pages as the ReverseProxy path;
// Config.NoFastPath turns it off. The plain-HTTP listener's connections
// are served by the proxy's own HTTP/1.1 loop (h1conn.go, h1parse.go,
// h1writer.go): one goroutine per connection reads each request head,
// runs the handler with its own ResponseWriter and reads the next; a
// request its strict parser does not take (upgrades, Expect, chunked or
// large bodies, anything odd or malformed) is handed, with the connection
// and its bytes, to net/http's server, which serves that connection from
// then on. Config.NoH1Loop (BERTH_PROXY_H1LOOP=0) turns it off; it needs
// the fast path. HTTPS stays on net/http's server (and HTTP/2).
// Everything else is forwarded by
// httputil.ReverseProxy (Rewrite). Its transport is a small wrapper around
// the target's own http.Transport: it times the response headers per
// route, and retries once on another target when the dial fails and the
// request has no body.
//
// Before routing, a request may be answered by the proxy itself, in this
// order: an ACME HTTP-01 challenge the daemon set (GET or HEAD of
// /.well-known/acme-challenge/TOKEN, any host, either listener; an unknown
// token goes on to routing); a domain redirect (the host is the From of a
// Route.Redirects entry: its Code, 301 by default, to the same scheme, the
// To host and the request's path and query exactly as sent); and, on the
// HTTP listener, the redirect to HTTPS of a route with RedirectHTTP (301,
// the HTTPS listener's port unless 443; not for ACME challenge paths, and
// only if the proxy has an HTTPS listener).
//
// # TLS
//
// With Config.HTTPSAddr the proxy also serves TLS 1.2 and up (Go's default
// cipher suites), HTTP/2 and HTTP/1.1 by ALPN. ACME runs in the daemon: it
// pushes each app's certificate chain and key with its route (Route.TLS),
// the HTTP-01 challenge tokens (SetChallenge, ClearChallenge) and the
// TLS-ALPN-01 challenge certificates (SetALPNCert, ClearALPNCert); the
// challenges are kept in memory only and answered for at most ChallengeTTL.
// The certificate of a handshake is picked by server name as requests are
// routed (exact, then one-label wildcard; a redirect's From uses its
// route's certificate); an unknown name, or none, fails the handshake
// (logged at debug): there is no default certificate. A pair is parsed
// once, when the route is set, and shared by the tables that follow while
// the PEM stays the same; a pair that does not parse or match is an invalid
// route. Hosts the certificate does not cover are accepted, logged and
// reported by Routes (RouteTLS.Uncovered). Requests over TLS reach the app
// with X-Forwarded-Proto https and the HTTPS port in X-Forwarded-Port;
// responses of a route with HSTS carry its Strict-Transport-Security, over
// TLS only.
//
// An ACME TLS-ALPN-01 validation (RFC 8737) is a handshake whose only ALPN
// protocol is acme-tls/1 (tls.Config.GetConfigForClient tells it apart):
// it gets the challenge certificate set for exactly its server name
// (lower-cased) and negotiates acme-tls/1, or, with none set, fails, even
// for a name with a route. The connection serves no HTTP: http.Server
// closes it once the handshake is done, having no TLSNextProto for
// acme-tls/1. Any other handshake, for the same name too, is unaffected. A
// challenge certificate is refused unless it parses, matches its key and
// is one for its name (that single DNS name and the critical
// acmeIdentifier extension), as acme.Client.TLSALPN01ChallengeCert makes.
//
// # Targets
//
// One backend per address holds the in-flight counter, the connection pool
// and the liveness verdict. Tables share it, and it outlives the tables
// that list it while requests to it are in flight (WebSockets until they
// close), so Drain works for targets already swapped out. Once unlisted and
// idle it is forgotten and its idle connections are closed: a container
// that later gets the same port never sees a connection to the old one.
//
// # Control side
//
// Table changes are serialized by one mutex, validated (one owner per
// host, a redirect's From counting as a host), written to the state file
// (temp file, fsync, rename, fsync of the directory) and only then swapped
// in; a failed write changes nothing. The state file holds private keys:
// it is created mode 0600, in a directory created 0700. Liveness probers
// are started and stopped to match the table.
//
// # Hand-over
//
// A proxy started with Config.TakeOver while another answers on the
// control socket (the daemon does this after an upgrade: Status.Build
// differs from its binary's) gets the running proxy's listening sockets as
// file descriptors (SCM_RIGHTS on the control connection, hijacked) and its
// routes, serves them, and then takes the control socket and the state
// file; the old proxy stops accepting, serves the connections it accepted
// and exits. Until the new proxy says it is ready, the old one keeps
// accepting and can take it back. See handover.go.
package proxy
