package sshserver

import (
	"log/slog"
	"net"
	"sync"
	"time"
)

// AuthLimit bounds failed authentications from one client address. A
// connection fails when it offers a key the Authenticator refuses and
// closes without authenticating. After Failures such connections within
// Window, the address's new connections are closed before the ssh
// handshake until Window has passed since the last counted one; the
// server logs this once per block. IPv6 clients are counted by /64.
//
// Public keys cannot be guessed, so this does not protect keys: it makes
// a scanner or a misconfigured client cheap, and keeps the log short. A
// legitimate key from a blocked address (behind the same NAT) is refused
// too until the block ends.
type AuthLimit struct {
	// Failures allowed within Window; 0 means DefaultAuthFailures, a
	// negative value turns the limit off.
	Failures int
	// Window; 0 means DefaultAuthWindow.
	Window time.Duration
}

// Defaults of AuthLimit.
const (
	DefaultAuthFailures = 10
	DefaultAuthWindow   = time.Minute
)

// maxTracked bounds the addresses the limiter remembers; past it, new
// addresses are not counted (the limiter fails open rather than growing).
const maxTracked = 1 << 16

// authLimiter counts failed authentications by address.
type authLimiter struct {
	max    int
	window time.Duration
	log    *slog.Logger
	now    func() time.Time

	mu    sync.Mutex
	addrs map[string]*authFailures
}

type authFailures struct {
	n    int
	last time.Time // of the last counted failure
}

func newAuthLimiter(l AuthLimit, log *slog.Logger) *authLimiter {
	if l.Failures < 0 {
		return nil
	}
	if l.Failures == 0 {
		l.Failures = DefaultAuthFailures
	}
	if l.Window <= 0 {
		l.Window = DefaultAuthWindow
	}
	return &authLimiter{max: l.Failures, window: l.Window, log: log, now: time.Now, addrs: make(map[string]*authFailures)}
}

// limitKey is the address a connection is counted by: its IP (IPv6 by
// /64), or "" for connections that are not TCP (never limited).
func limitKey(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP == nil {
		return ""
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		return ip4.String()
	}
	return ta.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// blocked reports whether connections from key are refused now.
func (l *authLimiter) blocked(key string) bool {
	if l == nil || key == "" {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.addrs[key]
	return f != nil && f.n >= l.max && l.now().Sub(f.last) < l.window
}

// fail counts a failed authentication from key, and logs when it blocks
// the address.
func (l *authLimiter) fail(key string) {
	if l == nil || key == "" {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.addrs[key]
	if f == nil {
		if len(l.addrs) >= maxTracked/2 {
			l.sweep(now)
		}
		if len(l.addrs) >= maxTracked {
			return
		}
		f = &authFailures{}
		l.addrs[key] = f
	}
	if now.Sub(f.last) >= l.window {
		f.n = 0
	}
	f.n++
	f.last = now
	if f.n == l.max {
		l.log.Warn("ssh: too many failed authentications, refusing this address's connections",
			"remote", key, "failures", f.n, "for", l.window.String())
	}
}

// sweep forgets addresses whose last failure is older than the window.
func (l *authLimiter) sweep(now time.Time) {
	for k, f := range l.addrs {
		if now.Sub(f.last) >= l.window {
			delete(l.addrs, k)
		}
	}
}
