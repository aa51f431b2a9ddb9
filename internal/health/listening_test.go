package health

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/appfile"
)

// Real tables, read from /proc/PID/net of a container (a Go server on
// ":5001", with IPv6 disabled: the kernel lists it in tcp6 as ::) and of a
// host (127.0.0.1, 127.0.0.2 and 0.0.0.0:2024 listening; an established
// connection; ::1 and ::ffff:127.0.0.1 listening).
const (
	containerTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
`
	containerTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1389 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10324279 1 0000000049ac48dc 100 0 0 10 0
`
	hostTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 0100007F:D41F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10287778 2 000000006956611f 100 0 0 10 0                  
   1: 0200007F:9A6B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10358941 1 000000004cd7bf89 100 0 0 10 0
   2: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1078 1 00000000c5330ff3 100 0 0 10 0                      
   3: 0100007F:D41F 0100007F:8A12 01 00000000:00000000 00:00000000 00000000     0        0 10287999 1 0000000000000000 20 4 30 10 -1
`
	hostTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:8A05 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10358940 1 000000003ebd2e79 100 0 0 10 0
   1: 00000000000000000000000001000000:93EF 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10358939 1 00000000803c0d84 100 0 0 10 0
`
	hostIfInet6 = `00000000000000000000000000000001 01 80 10 80       lo
`
)

func aps(t *testing.T, ss ...string) []netip.AddrPort {
	t.Helper()
	var out []netip.AddrPort
	for _, s := range ss {
		out = append(out, netip.MustParseAddrPort(s))
	}
	return out
}

func TestParseProcNetTCP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text string
		want       []netip.AddrPort
	}{
		{"container tcp, empty", containerTCP, nil},
		{"container tcp6", containerTCP6, aps(t, "[::]:5001")},
		{"host tcp: LISTEN only", hostTCP, aps(t, "127.0.0.1:54303", "127.0.0.2:39531", "0.0.0.0:2024")},
		{"host tcp6", hostTCP6, aps(t, "[::ffff:127.0.0.1]:35333", "[::1]:37871")},
		{"nothing", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProcNetTCP(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{
		"   0: 0100007F 00000000:0000 0A",
		"   0: 0100007F:XYZ 00000000:0000 0A",
		"   0: 01007F:1389 00000000:0000 0A",
		"   0: 0100007F:1389",
	} {
		if got, err := ParseProcNetTCP(bad); err == nil {
			t.Errorf("%q: got %v, want an error", bad, got)
		}
	}
}

func TestReadSockets(t *testing.T) {
	t.Parallel()
	write := func(dir, name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	host := t.TempDir()
	write(host, "tcp", hostTCP)
	write(host, "tcp6", hostTCP6)
	write(host, "if_inet6", hostIfInet6)
	s, err := ReadSockets(host)
	if err != nil {
		t.Fatal(err)
	}
	want := aps(t, "127.0.0.1:54303", "127.0.0.2:39531", "0.0.0.0:2024", "[::ffff:127.0.0.1]:35333", "[::1]:37871")
	if !slices.Equal(s.Listening, want) || !s.IPv6 {
		t.Fatalf("got %+v, want %v with IPv6", s, want)
	}

	ctr := t.TempDir()
	write(ctr, "tcp", containerTCP)
	write(ctr, "tcp6", containerTCP6)
	write(ctr, "if_inet6", "")
	if s, err = ReadSockets(ctr); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Listening, aps(t, "[::]:5001")) || s.IPv6 {
		t.Fatalf("got %+v, want [::]:5001 without IPv6", s)
	}

	// No tcp6 nor if_inet6 (a kernel without IPv6): IPv4 only.
	v4 := t.TempDir()
	write(v4, "tcp", hostTCP)
	if s, err = ReadSockets(v4); err != nil || len(s.Listening) != 3 || s.IPv6 {
		t.Fatalf("got %+v, %v", s, err)
	}
	// No tcp at all: an error.
	if _, err := ReadSockets(filepath.Join(v4, "missing")); err == nil {
		t.Fatal("no error for a missing directory")
	}
}

func TestListeningProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		addrs []string
		ipv6  bool
		want  string
	}{
		{"IPv4 wildcard", []string{"127.0.0.1:9000", "0.0.0.0:5000"}, false, ""},
		{"IPv6 wildcard", []string{"[::]:5000"}, true, ""},
		{"IPv6 wildcard without IPv6", []string{"[::]:5000"}, false, ""},
		{"nothing listens", nil, false, ""},
		{"IPv4 interface", []string{"127.0.0.1:5000"}, false,
			"container listening on expected port (5000) with unexpected IPv4 interface: expected=0.0.0.0 actual=127.0.0.1"},
		{"mapped IPv4 interface", []string{"[::ffff:127.0.0.1]:5000"}, true,
			"container listening on expected port (5000) with unexpected IPv4 interface: expected=0.0.0.0 actual=127.0.0.1"},
		{"IPv6 interface", []string{"[::1]:5000"}, true,
			"container listening on expected port (5000) with unexpected IPv6 interface: expected=:: actual=::1"},
		{"IPv4 port", []string{"0.0.0.0:5001"}, false,
			"container listening on expected IPv4 interface with an unexpected port: expected=5000 actual=5001"},
		{"dual-stack port without IPv6", []string{"[::]:5001"}, false,
			"container listening on expected IPv4 interface with an unexpected port: expected=5000 actual=5001"},
		{"IPv6 port", []string{"[::]:5001"}, true,
			"container listening on expected IPv6 interface with an unexpected port: expected=5000 actual=5001"},
		{"IPv4 both", []string{"127.0.0.1:8080"}, false,
			"container listening on unexpected IPv4 interface with an unexpected port: expected=0.0.0.0:5000 actual=127.0.0.1:8080"},
		{"IPv6 both", []string{"[::1]:8080"}, true,
			"container listening on unexpected IPv6 interface with an unexpected port: expected=:::5000 actual=::1:8080"},
		// The most telling socket is named, whatever the table's order.
		{"interface first", []string{"127.0.0.1:8080", "0.0.0.0:9000", "127.0.0.1:5000"}, false,
			"container listening on expected port (5000) with unexpected IPv4 interface: expected=0.0.0.0 actual=127.0.0.1"},
		{"wildcard next", []string{"127.0.0.1:8080", "[::1]:5000", "0.0.0.0:9000"}, true,
			"container listening on expected IPv4 interface with an unexpected port: expected=5000 actual=9000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Sockets{IPv6: tc.ipv6}
			for _, a := range tc.addrs {
				s.Listening = append(s.Listening, netip.MustParseAddrPort(a))
			}
			if got := ListeningProblem(s, 5000); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// sockFake is a fake container whose sockets the test controls: each call
// of ListeningSockets returns the next of seq (the last one repeats).
type sockFake struct {
	*fake
	mu    sync.Mutex
	seq   []Sockets
	err   error
	calls int
}

func (f *sockFake) ListeningSockets(context.Context) (Sockets, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return Sockets{}, f.err
	}
	return f.seq[min(f.calls-1, len(f.seq)-1)], nil
}

func socks(addrs ...string) Sockets {
	var s Sockets
	for _, a := range addrs {
		s.Listening = append(s.Listening, netip.MustParseAddrPort(a))
	}
	return s
}

const (
	dokkuStart = "       web.1: Running healthcheck name='port listening check' attempts=3 port=5000 retries=2 timeout=5 type='listening' wait=5\n"
	dokkuFail  = "       web.1: Failure in name='port listening check': container listening on expected IPv4 interface with an unexpected port: expected=5000 actual=5001\n"
)

func runSockets(t *testing.T, c Container, checks []appfile.Healthcheck) ([]Result, string, error) {
	t.Helper()
	var out strings.Builder
	res, err := RunWith(context.Background(), c, checks, RunOptions{DefaultUptime: 2 * unit, Second: unit, WebPort: 5000}, &out)
	return res, out.String(), err
}

func TestPortListeningCheckFails(t *testing.T) {
	t.Parallel()
	c := &sockFake{fake: newFake(32768), seq: []Sockets{socks("0.0.0.0:5001")}}
	res, out, err := runSockets(t, c, nil)
	var he *Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want *Error\n%s", err, out)
	}
	want := `web.1: check "port listening check" failed after 3 attempts: container listening on expected IPv4 interface with an unexpected port: expected=5000 actual=5001`
	if err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}
	if !strings.HasPrefix(out, dokkuStart) || !strings.HasSuffix(out, dokkuFail) {
		t.Fatalf("output lacks Dokku's lines:\n%s", out)
	}
	if n := strings.Count(out, "(attempt "); n != 3 {
		t.Fatalf("%d attempt lines, want 3:\n%s", n, out)
	}
	// The uptime check did not run.
	if len(res) != 1 || res[0].Check.Name != PortListeningCheck || res[0].Attempts != 3 || c.calls != 4 {
		t.Fatalf("results %+v, %d socket reads (a probe and 3 attempts)", res, c.calls)
	}
}

func TestPortListeningCheckRetriesThenPasses(t *testing.T) {
	t.Parallel()
	// Listening on localhost first, then on every interface (an app that
	// rebinds), then the uptime check.
	c := &sockFake{fake: newFake(32768), seq: []Sockets{socks("127.0.0.1:5000"), socks("127.0.0.1:5000"), socks("0.0.0.0:5000", "127.0.0.1:9000")}}
	res, out, err := runSockets(t, c, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res) != 2 || !res[0].Passed || res[0].Attempts != 2 || res[1].Check.Kind() != appfile.UptimeCheck || !res[1].Passed {
		t.Fatalf("results %+v\n%s", res, out)
	}
	if !strings.Contains(out, `"port listening check" (attempt 1/3): container listening on expected port (5000) with unexpected IPv4 interface: expected=0.0.0.0 actual=127.0.0.1`) ||
		!strings.Contains(out, "waiting for 40ms of uptime") || strings.Contains(out, "Failure in") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestPortListeningCheckNothingListens(t *testing.T) {
	t.Parallel()
	// Nothing listens during the first attempt (its timeout, 5 units): the
	// check passes unchecked (the app may boot slowly), and the uptime
	// check decides.
	c := &sockFake{fake: newFake(32768), seq: []Sockets{{}}}
	start := time.Now()
	res, out, err := runSockets(t, c, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res) != 2 || !res[0].Passed || res[0].Attempts != 1 || !strings.Contains(res[0].Detail, "nothing listens in the container after") || !res[1].Passed {
		t.Fatalf("results %+v\n%s", res, out)
	}
	if took := time.Since(start); took < 4*unit || c.calls < 4 {
		t.Fatalf("looked %d times in %s, want polls for about 5 units (%s)", c.calls, took, 5*unit)
	}
}

func TestPortListeningCheckUnavailable(t *testing.T) {
	t.Parallel()
	c := &sockFake{fake: newFake(32768), err: fmt.Errorf("%w (no /proc here)", ErrSocketsUnavailable)}
	res, out, err := runSockets(t, c, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// One line, then today's uptime check.
	if strings.Count(out, "cannot be read") != 1 || strings.Contains(out, "Running healthcheck") {
		t.Fatalf("output:\n%s", out)
	}
	if len(res) != 2 || !res[0].Passed || !res[1].Passed || res[1].Check.Kind() != appfile.UptimeCheck || c.calls != 1 {
		t.Fatalf("results %+v, %d reads", res, c.calls)
	}
}

func TestPortListeningCheckOnWebOnly(t *testing.T) {
	t.Parallel()
	// A worker (no published port): uptime only, sockets never read.
	c := &sockFake{fake: newFake(0), seq: []Sockets{socks("0.0.0.0:5001")}}
	if res, out, err := runSockets(t, c, nil); err != nil || len(res) != 1 || c.calls != 0 {
		t.Fatalf("worker: %v, %+v, %d reads\n%s", err, res, c.calls, out)
	}
	// A web container with startup checks of its own: the port listening
	// check runs first, and explains the failure.
	c = &sockFake{fake: newFake(32768), seq: []Sockets{socks("0.0.0.0:5001")}}
	checks := []appfile.Healthcheck{{Name: "check-1", Command: []string{"true"}}, {Type: appfile.HealthcheckLiveness, Path: "/"}}
	res, out, err := runSockets(t, c, checks)
	if err == nil || len(res) != 1 || !strings.HasSuffix(out, dokkuFail) || len(c.execCalls) != 0 {
		t.Fatalf("own checks: %v, %+v\n%s", err, res, out)
	}
	// Once it passes, the container's own checks run, and no uptime check.
	c = &sockFake{fake: newFake(32768), seq: []Sockets{socks("[::]:5000")}}
	res, out, err = runSockets(t, c, checks)
	if err != nil || len(res) != 2 || res[1].Check.Name != "check-1" || !res[1].Passed {
		t.Fatalf("own checks: %v, %+v\n%s", err, res, out)
	}
}

func TestPortListeningCheckOwnAddress(t *testing.T) {
	t.Parallel()
	// Bound to the container's own address: reachable, it passes.
	s := socks("172.18.0.5:5000")
	s.Own = []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("172.18.0.5")}
	c := &sockFake{fake: newFake(32768), seq: []Sockets{s}}
	res, out, err := runSockets(t, c, nil)
	if err != nil || !strings.Contains(res[0].Detail, "on the container's address 172.18.0.5 only") {
		t.Fatalf("%v, %+v\n%s", err, res, out)
	}
	// Another address, or another port on its address: it fails.
	for _, a := range []string{"172.18.0.6:5000", "172.18.0.5:5001"} {
		s := socks(a)
		s.Own = []netip.Addr{netip.MustParseAddr("172.18.0.5")}
		c := &sockFake{fake: newFake(32768), seq: []Sockets{s}}
		if _, out, err := runSockets(t, c, nil); err == nil {
			t.Fatalf("%s passed\n%s", a, out)
		}
	}
}

func TestPortListeningCheckJudgesABootingAppAtOnce(t *testing.T) {
	t.Parallel()
	// Nothing listens for the first reads, then the app binds: the first
	// attempt sees it, without waiting for the next attempt.
	seq := []Sockets{{}, {}, {}, {}, socks("0.0.0.0:5000")}
	c := &sockFake{fake: newFake(32768), seq: seq}
	res, out, err := runSockets(t, c, nil)
	if err != nil || res[0].Attempts != 1 || !res[0].Passed {
		t.Fatalf("%v, %+v\n%s", err, res, out)
	}
	// Binding wrong is reported by the first attempt too.
	c = &sockFake{fake: newFake(32768), seq: append(seq[:4:4], socks("127.0.0.1:5000"))}
	if _, out, err = runSockets(t, c, nil); err == nil || !strings.Contains(out, "(attempt 1/3): container listening on expected port (5000) with unexpected IPv4 interface") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestListeningCheckReadsSockets(t *testing.T) {
	t.Parallel()
	// An app.json listening check reads the sockets too, on its own port
	// (it needs no published port then), with Berth's lines.
	c := &sockFake{fake: newFake(0), seq: []Sockets{socks("127.0.0.1:7000")}}
	checks := []appfile.Healthcheck{{Listening: true, Port: 7000, Attempts: ip(2), Wait: ip(0)}}
	_, out, err := runSockets(t, c, checks)
	want := "web.1: check listening failed after 2 attempts: container listening on expected port (7000) with unexpected IPv4 interface: expected=0.0.0.0 actual=127.0.0.1"
	if err == nil || err.Error() != want || strings.Contains(out, "Failure in") {
		t.Fatalf("err = %v\n%s", err, out)
	}
	c = &sockFake{fake: newFake(0), seq: []Sockets{socks("[::]:7000")}}
	if res, out, err := runSockets(t, c, checks); err != nil || !res[0].Passed {
		t.Fatalf("err = %v\n%s", err, out)
	}
	// Unreadable sockets: the published port is dialed, as before; this
	// container publishes none.
	c = &sockFake{fake: newFake(0), err: ErrSocketsUnavailable}
	checks = []appfile.Healthcheck{{Listening: true}}
	if _, out, err := runSockets(t, c, checks); err == nil || !strings.Contains(err.Error(), "no published port") {
		t.Fatalf("err = %v\n%s", err, out)
	}
}

func TestPortListeningCheckStopsWithContainer(t *testing.T) {
	t.Parallel()
	c := &sockFake{fake: newFake(32768), seq: []Sockets{{}}}
	c.set(func(f *fake) { f.running = false })
	res, out, err := runSockets(t, c, nil)
	// The check that follows names the failure, and only it counts.
	if err == nil || err.Error() != `web.1: check "default" failed: container not running` || strings.Contains(out, "Failure in") || len(res) != 1 {
		t.Fatalf("err = %v, %+v\n%s", err, res, out)
	}
}
