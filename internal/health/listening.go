package health

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/appfile"
)

// PortListeningCheck is the name of the check Berth runs first on every web
// container whose sockets can be read, as Dokku adds it beside the app's own
// checks: its web port must be listened on, on every interface (or on the
// container's own address).
const PortListeningCheck = "port listening check"

// SocketLister is implemented by a Container whose listening TCP sockets can
// be read. Listening checks use it when the container has it; without it they
// dial the published port instead, and web containers get no port listening
// check.
type SocketLister interface {
	// ListeningSockets returns the listening TCP sockets of the
	// container's network namespace. An error matching
	// ErrSocketsUnavailable means they cannot be read at all here (e.g.
	// the daemon does not share the host's PID namespace); checks then fall
	// back to what they do without a SocketLister.
	ListeningSockets(ctx context.Context) (Sockets, error)
}

// ErrSocketsUnavailable is matched by errors of SocketLister.ListeningSockets
// when sockets cannot be read at all, as opposed to a failed attempt.
var ErrSocketsUnavailable = errors.New("the container's sockets cannot be read")

// Sockets are the listening TCP sockets of a network namespace.
type Sockets struct {
	// Listening are the local addresses of the sockets in state LISTEN,
	// IPv4 ones first, each as the kernel lists it (an IPv6 socket on an
	// IPv4-mapped address stays IPv6 here).
	Listening []netip.AddrPort
	// IPv6 reports whether the namespace has an IPv6 address. Without one
	// (Docker's default networks), a socket on the IPv6 wildcard "::" can
	// only serve IPv4 clients (through the dual-stack default), and
	// messages call it an IPv4 interface.
	IPv6 bool
	// Own are the container's addresses on its networks, where the
	// proxy's traffic arrives: a socket bound to one of them, on the
	// port, is reachable though not on every interface.
	Own []netip.Addr
}

// ReadSockets reads the listening TCP sockets of a network namespace from
// dir, a /proc/PID/net directory: its tcp and tcp6 tables and if_inet6. A
// missing tcp6 or if_inet6 means no IPv6. The daemon, root in the host's PID
// namespace, reads any container's this way without entering it.
func ReadSockets(dir string) (Sockets, error) {
	var s Sockets
	b, err := os.ReadFile(filepath.Join(dir, "tcp"))
	if err != nil {
		return s, err
	}
	if s.Listening, err = ParseProcNetTCP(string(b)); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, "tcp"), err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "tcp6"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	six, err := ParseProcNetTCP(string(b))
	if err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, "tcp6"), err)
	}
	s.Listening = append(s.Listening, six...)
	b, err = os.ReadFile(filepath.Join(dir, "if_inet6"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	s.IPv6 = strings.TrimSpace(string(b)) != ""
	return s, nil
}

// ParseProcNetTCP returns the local addresses of the sockets in state LISTEN
// (0A) of a /proc/net/tcp or /proc/net/tcp6 table, in the table's order. The
// kernel prints each address as 32-bit words in host byte order, in hex, and
// the port in hex.
func ParseProcNetTCP(text string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if first {
			first = false
			if len(f) > 0 && f[0] == "sl" {
				continue // the header
			}
		}
		if len(f) == 0 {
			continue
		}
		if len(f) < 4 {
			return nil, fmt.Errorf("unexpected line %q", oneLine(sc.Text(), 80))
		}
		if f[3] != "0A" {
			continue
		}
		ap, err := parseHexAddrPort(f[1])
		if err != nil {
			return nil, err
		}
		out = append(out, ap)
	}
	return out, sc.Err()
}

// parseHexAddrPort parses a /proc/net/tcp address like "0100007F:1389".
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("unexpected address %q", oneLine(s, 80))
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("unexpected port in %q", oneLine(s, 80))
	}
	raw, err := hex.DecodeString(a)
	if err != nil || len(raw) != 4 && len(raw) != 16 {
		return netip.AddrPort{}, fmt.Errorf("unexpected address %q", oneLine(s, 80))
	}
	// Each 32-bit word was printed as a host-order integer: undo that.
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// ListeningProblem says what is wrong with sockets for a port that must be
// listened on on every interface, with Dokku's messages; "" when the IPv4 or
// IPv6 wildcard (0.0.0.0 or ::) listens on port. With several wrong sockets
// it names the most telling one: one on the port (a wrong interface) before
// one on a wildcard (a wrong port), IPv4 before IPv6. With no listening
// socket at all it returns "" too; ListeningCheck tells that case apart.
func ListeningProblem(s Sockets, port int) string {
	type cand struct {
		addr netip.Addr
		port int
		v4   bool
		rank int
	}
	var cands []cand
	for _, ap := range s.Listening {
		addr := ap.Addr()
		if addr.Is4In6() {
			addr = addr.Unmap()
		}
		p := int(ap.Port())
		if addr.IsUnspecified() && p == port {
			return ""
		}
		// The IPv6 wildcard of a namespace without IPv6 only serves
		// IPv4 clients.
		v4 := addr.Is4() || addr.IsUnspecified() && !s.IPv6
		rank := 2
		switch {
		case p == port:
			rank = 0
		case addr.IsUnspecified():
			rank = 1
		}
		if !v4 {
			rank += 3
		}
		cands = append(cands, cand{addr: addr, port: p, v4: v4, rank: rank})
	}
	if len(cands) == 0 {
		return ""
	}
	c := slices.MinFunc(cands, func(a, b cand) int { return a.rank - b.rank })
	family, wildcard := "IPv6", "::"
	if c.v4 {
		family, wildcard = "IPv4", "0.0.0.0"
	}
	switch {
	case c.port == port:
		return fmt.Sprintf("container listening on expected port (%d) with unexpected %s interface: expected=%s actual=%s", port, family, wildcard, c.addr)
	case c.addr.IsUnspecified():
		return fmt.Sprintf("container listening on expected %s interface with an unexpected port: expected=%d actual=%d", family, port, c.port)
	default:
		// As netstat shows it, without brackets.
		return fmt.Sprintf("container listening on unexpected %s interface with an unexpected port: expected=%s:%d actual=%s:%d", family, wildcard, port, c.addr, c.port)
	}
}

// DefaultListeningCheck returns the port listening check of a web container
// without startup checks: Dokku's name and defaults (3 attempts, 5 seconds
// apart, 5 seconds each) on the web port.
func DefaultListeningCheck(webPort int) appfile.Healthcheck {
	return appfile.Healthcheck{Name: PortListeningCheck, Listening: true, Port: webPort}.WithDefaults()
}

// socketCheck returns the attempt of a listening check that reads the
// container's sockets: it passes when port is listened on on a wildcard
// address, or on one of the container's own addresses. While nothing listens
// at all, the attempt reads the sockets again every poll until its timeout is
// nearly up, so a booting app is judged as soon as it binds. When nothing
// listened during the whole attempt, the check passes unchecked: the app may
// boot slowly or serve nothing (Dokku passes at once), and the checks that
// follow (the uptime check at least) still catch an app that dies.
func (r *runner) socketCheck(l SocketLister, port int) attemptFunc {
	type res struct {
		s   Sockets
		err error
	}
	return func(ctx context.Context) (bool, string) {
		start := time.Now()
		for looked := 0; ; looked++ {
			got, err := await(ctx, func() res {
				var v res
				v.s, v.err = l.ListeningSockets(ctx)
				return v
			})
			if err == nil {
				err = got.err
			}
			if err != nil && looked > 0 && errors.Is(err, context.DeadlineExceeded) {
				break // the attempt's time is up: nothing listened
			}
			if got.err != nil {
				return false, "reading the container's sockets: " + oneLine(got.err.Error(), 200)
			}
			if err != nil {
				return false, oneLine(err.Error(), 200)
			}
			if len(got.s.Listening) > 0 {
				return judge(got.s, port)
			}
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) <= 2*r.poll || sleep(ctx, r.poll) != nil {
				break
			}
		}
		return true, fmt.Sprintf("nothing listens in the container after %s: not checked", time.Since(start).Round(r.unit/10))
	}
}

// judge says whether sockets s serve port.
func judge(s Sockets, port int) (bool, string) {
	why := ListeningProblem(s, port)
	if why == "" {
		return true, fmt.Sprintf("listening on port %d", port)
	}
	for _, ap := range s.Listening {
		if int(ap.Port()) == port && slices.Contains(s.Own, ap.Addr().Unmap()) {
			return true, fmt.Sprintf("listening on port %d on the container's address %s only", port, ap.Addr().Unmap())
		}
	}
	return false, why
}

// dokkuLine is Dokku's line for a check that starts, e.g. "Running
// healthcheck name='port listening check' attempts=3 port=5000 retries=2
// timeout=5 type='listening' wait=5".
func dokkuLine(h appfile.Healthcheck) string {
	return fmt.Sprintf("Running healthcheck name='%s' attempts=%d port=%d retries=%d timeout=%d type='listening' wait=%d",
		h.Name, *h.Attempts, h.Port, max(*h.Attempts-1, 0), *h.Timeout, *h.Wait)
}
