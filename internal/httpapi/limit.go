package httpapi

import (
	"sync"
	"time"
)

// Limit bounds failed authentications from one client address: after
// Failures of them within Window, the address's requests get 429 until
// Window has passed since the last one. Tokens are 32 random bytes, so
// this does not protect them from guessing: it makes a scanner cheap and
// the log short.
type Limit struct {
	// Failures allowed within Window; 0: 10; negative: no limit.
	Failures int
	// Window; 0: one minute.
	Window time.Duration
}

// maxTracked bounds the addresses remembered; past it new ones are not
// counted (the limiter fails open rather than growing).
const maxTracked = 1 << 16

type limiter struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	addrs map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

func newLimiter(l Limit) *limiter {
	if l.Failures < 0 {
		return nil
	}
	if l.Failures == 0 {
		l.Failures = 10
	}
	if l.Window <= 0 {
		l.Window = time.Minute
	}
	return &limiter{max: l.Failures, window: l.Window, addrs: map[string]*failures{}}
}

// blocked reports whether addr failed too often lately.
func (l *limiter) blocked(addr string) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.addrs[addr]
	if !ok {
		return false
	}
	if timeNow().Sub(f.last) > l.window {
		delete(l.addrs, addr)
		return false
	}
	return f.n >= l.max
}

// fail counts a failed authentication from addr.
func (l *limiter) fail(addr string) {
	if l == nil {
		return
	}
	now := timeNow()
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.addrs[addr]
	if ok && now.Sub(f.last) > l.window {
		f.n = 0
	}
	if !ok {
		if len(l.addrs) >= maxTracked {
			l.sweep(now)
			if len(l.addrs) >= maxTracked {
				return
			}
		}
		f = &failures{}
		l.addrs[addr] = f
	}
	f.n++
	f.last = now
}

func (l *limiter) sweep(now time.Time) {
	for a, f := range l.addrs {
		if now.Sub(f.last) > l.window {
			delete(l.addrs, a)
		}
	}
}

// Blocked reports whether addr failed to authenticate too often lately
// (the dashboard's login shares the API's limit).
func (s *Server) Blocked(addr string) bool { return s.limiter.blocked(addr) }

// Failed counts a failed authentication from addr.
func (s *Server) Failed(addr string) { s.limiter.fail(addr) }
