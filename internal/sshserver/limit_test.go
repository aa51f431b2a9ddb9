package sshserver

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestAuthLimiter(t *testing.T) {
	logs := &logBuffer{}
	l := newAuthLimiter(AuthLimit{Failures: 3, Window: time.Minute}, slog.New(slog.NewTextHandler(logs, nil)))
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	a, b := "192.0.2.1", "192.0.2.2"
	for i := range 2 {
		l.fail(a)
		if l.blocked(a) {
			t.Fatalf("blocked after %d failures", i+1)
		}
	}
	l.fail(a)
	if !l.blocked(a) || l.blocked(b) {
		t.Fatalf("after 3 failures: a blocked %v, b blocked %v", l.blocked(a), l.blocked(b))
	}
	l.fail(a) // a refused connection is not counted by the server, but may be here
	if n := strings.Count(logs.String(), "too many failed authentications"); n != 1 {
		t.Errorf("logged %d times:\n%s", n, logs)
	}
	now = now.Add(59 * time.Second)
	if !l.blocked(a) {
		t.Error("unblocked before the window passed since the last failure")
	}
	now = now.Add(time.Minute)
	if l.blocked(a) {
		t.Error("still blocked a window after the last failure")
	}
	// Failures spread wider than the window never block.
	for range 10 {
		l.fail(b)
		now = now.Add(time.Minute)
	}
	if l.blocked(b) {
		t.Error("b blocked by failures a window apart")
	}
	l.sweep(now)
	if len(l.addrs) != 0 {
		t.Errorf("sweep kept %v", l.addrs)
	}
	if newAuthLimiter(AuthLimit{Failures: -1}, nil).blocked(a) {
		t.Error("a disabled limiter blocks")
	}
}

func TestLimitKey(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 22}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 22}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 22}, "2001:db8:1:2::/64"},
		{&net.UnixAddr{Name: "@", Net: "unix"}, ""},
	} {
		if got := limitKey(tc.addr); got != tc.want {
			t.Errorf("limitKey(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestFailedAuthenticationsAreLimited: after three connections with an
// unknown key, the address's next connections (even with a registered
// key) are closed before the handshake, quickly, and the server says so
// once in its log; a key that authenticates is never counted.
func TestFailedAuthenticationsAreLimited(t *testing.T) {
	t.Parallel()
	ts := startServer(t, echoHandler, func(c *Config) { c.AuthLimit = AuthLimit{Failures: 3, Window: time.Minute} })
	for range 5 {
		if r := ts.run("", ts.key, "berth", nil, "whoami"); r.code != 0 {
			t.Fatalf("registered key: exit %d %q", r.code, r.stderr)
		}
	}
	other, _ := keygen(t, "mallory")
	for i := range 3 {
		r := ts.run("", other, "berth", nil, "whoami")
		if r.code != 255 || !strings.Contains(r.stderr, "Permission denied (publickey)") {
			t.Fatalf("attempt %d: exit %d %q", i+1, r.code, r.stderr)
		}
	}
	ts.logs.waitFor(t, "too many failed authentications")
	for _, key := range []string{other, ts.key} {
		start := time.Now()
		r := ts.run("", key, "berth", nil, "whoami")
		if r.code != 255 || strings.Contains(r.stderr, "Permission denied") || strings.Contains(r.stdout, "key=") {
			t.Errorf("blocked address: exit %d, stdout %q, stderr %q; want the connection closed", r.code, r.stdout, r.stderr)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("refusal took %v", d)
		}
	}
	if n := strings.Count(ts.logs.String(), "too many failed authentications"); n != 1 {
		t.Errorf("logged %d times", n)
	}
}
