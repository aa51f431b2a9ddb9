// Package proxy is Berth's reverse proxy: the small long-lived process
// (`berth proxy`) that holds the HTTP listener and the routing table, so
// that restarting or crashing the daemon drops no request. It routes
// requests by host name to the web containers of apps, persists its table,
// and takes changes from the daemon over a unix control socket (Client).
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
// Forwarding is httputil.ReverseProxy (Rewrite). Its transport is a small
// wrapper around the target's own http.Transport: it times the response
// headers per route, and retries once on another target when the dial fails
// and the request has no body.
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
// host), written to the state file (temp file, fsync, rename, fsync of the
// directory) and only then swapped in; a failed write changes nothing.
// Liveness probers are started and stopped to match the table.
package proxy
