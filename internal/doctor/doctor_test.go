package doctor

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

type fakeEngine struct {
	info EngineInfo
	err  error
}

func (f fakeEngine) Info(context.Context) (EngineInfo, error) { return f.info, f.err }

type fakeState struct {
	domains []Domain
	certs   []Cert
	backups []Backup
}

func (f fakeState) Domains(context.Context) ([]Domain, error) { return f.domains, nil }
func (f fakeState) Certs(context.Context) ([]Cert, error)     { return f.certs, nil }
func (f fakeState) Backups(context.Context) ([]Backup, error) { return f.backups, nil }

// fakeResolver answers from a table; "slow" names wait for the context.
type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	if host == "slow.example.com" {
		<-ctx.Done()
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
	}
	a, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return a, nil
}

type fakeListeners []Listener

func (f fakeListeners) Listeners() ([]Listener, error) { return f, nil }

type fakeDisks map[string]Usage

func (f fakeDisks) Usage(path string) (Usage, error) {
	u, ok := f[path]
	if !ok {
		return Usage{}, os.ErrNotExist
	}
	return u, nil
}

type fakeSSH struct{ r api.OpenSSHReport }

func (f fakeSSH) OpenSSHReport(context.Context) (api.OpenSSHReport, error) { return f.r, nil }

func hostAddrs() ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("::1")}, nil
}

// find returns the checks about subject (a prefix).
func find(t *testing.T, r api.DoctorReport, check, subject string) []api.DoctorCheck {
	t.Helper()
	var out []api.DoctorCheck
	for _, c := range r.Checks {
		if c.Check == check && strings.HasPrefix(c.Subject, subject) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s check of %q in %+v", check, subject, r.Checks)
	}
	return out
}

func wantOK(t *testing.T, r api.DoctorReport, check, subject, msg string) {
	t.Helper()
	c := find(t, r, check, subject)[0]
	if !c.OK || !strings.Contains(c.Message, msg) || c.Fix != "" {
		t.Errorf("%s %s: %+v, want OK with %q", check, subject, c, msg)
	}
}

func wantProblem(t *testing.T, r api.DoctorReport, check, subject, msg, fix string) {
	t.Helper()
	for _, c := range find(t, r, check, subject) {
		if !c.OK && strings.Contains(c.Message, msg) && strings.Contains(c.Fix, fix) && !strings.Contains(c.Fix, "\n") {
			return
		}
	}
	t.Errorf("%s %s: %+v, want a problem with %q, fix %q", check, subject, find(t, r, check, subject), msg, fix)
}

func base() Config {
	return Config{
		Engine:     fakeEngine{info: EngineInfo{Version: "20.10.24", RootDir: "/var/lib/docker", Time: now}},
		Now:        func() time.Time { return now },
		DataDir:    "/var/lib/berth",
		ConfigFile: "/var/lib/berth/berth.conf",
		HostAddrs:  hostAddrs,
		Disks:      fakeDisks{"/var/lib/berth": {Total: 100 << 30, Free: 50 << 30, Inodes: 1000, IFree: 900}, "/var/lib/docker": {Total: 100 << 30, Free: 50 << 30}},
		Listeners:  fakeListeners{},
	}
}

func TestEngineAndClock(t *testing.T) {
	t.Parallel()
	c := base()
	r := New(c).Run(context.Background())
	wantOK(t, r, "engine", "Docker", "20.10.24")
	wantOK(t, r, "clock", "clock", "within 5s")
	if r.Problems() != 0 {
		t.Errorf("a healthy host has problems: %+v", r.Checks)
	}

	c.Engine = fakeEngine{info: EngineInfo{Version: "20.10.24", Time: now.Add(-90 * time.Second)}}
	r = New(c).Run(context.Background())
	wantProblem(t, r, "clock", "clock", "1m30s behind", "timedatectl set-ntp true")

	c.Engine = fakeEngine{err: errors.New("Cannot reach the Docker Engine at unix:///var/run/docker.sock\nmore")}
	r = New(c).Run(context.Background())
	wantProblem(t, r, "engine", "Docker", "not reachable: Cannot reach the Docker Engine at unix:///var/run/docker.sock", "systemctl start docker")
	for _, ch := range r.Checks {
		if ch.Check == "clock" {
			t.Errorf("clock compared without an engine: %+v", ch)
		}
	}
	// The data root is unknown without the engine: only the data dir.
	if n := len(find(t, r, "disk", "")); n != 1 {
		t.Errorf("%d disk checks without the engine, want 1", n)
	}
}

func TestPorts(t *testing.T) {
	t.Parallel()
	c := base()
	isProxy := func(l Listener) bool { return l.PID == 100 }
	c.Ports = []Port{
		{Setting: "BERTH_HTTP_ADDR", Addr: ":80", Owner: "the berth proxy", Owns: isProxy, Fix: "systemctl restart berth"},
		{Setting: "BERTH_HTTPS_ADDR", Addr: ":443", Owner: "the berth proxy", Owns: isProxy, Fix: "systemctl restart berth"},
		{Setting: "BERTH_SSH_ADDR", Addr: "127.0.0.1:2222", Owner: "the berth daemon", Owns: func(l Listener) bool { return l.PID == 50 }, Fix: "systemctl restart berth"},
		{Setting: "BERTH_SSH_ADDR", Addr: "off"},
	}
	c.Listeners = fakeListeners{
		{Addr: netip.MustParseAddrPort("0.0.0.0:80"), PID: 100, Command: "berth"},
		{Addr: netip.MustParseAddrPort("[::]:443"), PID: 7, Command: "nginx"},
		{Addr: netip.MustParseAddrPort("10.0.0.1:2222"), PID: 9, Command: "other"}, // another address
	}
	r := New(c).Run(context.Background())
	wantOK(t, r, "port", "port :80 (BERTH_HTTP_ADDR)", "the berth proxy listens (berth (pid 100))")
	wantProblem(t, r, "port", "port :443", "port 443 is held by nginx (pid 7), not the berth proxy", "stop nginx (pid 7), or move Berth: set BERTH_HTTPS_ADDR in /var/lib/berth/berth.conf")
	wantProblem(t, r, "port", "port 127.0.0.1:2222", "nothing listens on port 2222; the berth daemon should", "systemctl restart berth")
	wantOK(t, r, "port", "BERTH_SSH_ADDR", "off")
}

func TestDisks(t *testing.T) {
	t.Parallel()
	c := base()
	c.Disks = fakeDisks{
		"/var/lib/berth":  {Total: 100 << 30, Free: 5 << 30, Inodes: 1000, IFree: 500}, // 5%: short of space
		"/var/lib/docker": {Total: 100 << 30, Free: 50 << 30, Inodes: 1000, IFree: 20}, // 2% inodes
	}
	r := New(c).Run(context.Background())
	wantProblem(t, r, "disk", "data dir /var/lib/berth", "5.0 GiB free of 100.0 GiB (5%), 50% of inodes free: short of space", "du -xsh /var/lib/berth/*")
	wantProblem(t, r, "disk", "Docker's data root /var/lib/docker", "short of inodes", "docker builder prune")

	c.Disks = fakeDisks{"/var/lib/berth": {Total: 10 << 30, Free: 1 << 30}, "/var/lib/docker": {Total: 10 << 30, Free: 3 << 30}}
	r = New(c).Run(context.Background())
	wantProblem(t, r, "disk", "data dir", "short of space (under 10% or 2.0 GiB)", "du")
	wantOK(t, r, "disk", "Docker's data root", "3.0 GiB free of 10.0 GiB (30%)")

	c.Disks = fakeDisks{}
	r = New(c).Run(context.Background())
	wantProblem(t, r, "disk", "data dir", "cannot read its file system", "check that /var/lib/berth exists")
}

func TestDomains(t *testing.T) {
	t.Parallel()
	c := base()
	c.LookupTimeout = 50 * time.Millisecond
	c.Resolver = fakeResolver{
		"shop.example.com":                     {"203.0.113.7"},
		"v6.example.com":                       {"203.0.113.7", "::1"},
		"elsewhere.example.com":                {"192.0.2.1"},
		"half.example.com":                     {"203.0.113.7", "192.0.2.9"},
		"berth-doctor-check.apps.example.com":  {"203.0.113.7"},
		"berth-doctor-check.other.example.com": {"192.0.2.1"},
	}
	c.State = fakeState{domains: []Domain{
		{"shop", "shop.example.com"}, {"shop", "v6.example.com"}, {"shop", "elsewhere.example.com"}, {"shop", "half.example.com"},
		{"blog", "gone.example.com"}, {"blog", "slow.example.com"}, {"blog", "*.apps.example.com"}, {"blog", "*.other.example.com"},
		{"blog", "blog.localhost"}, {"blog", "203.0.113.7"}, {"blog", "198.51.100.1"},
	}}
	start := time.Now()
	r := New(c).Run(context.Background())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the lookups took %s: not bounded", d)
	}
	wantOK(t, r, "domain", "shop.example.com (app shop)", "resolves to this host (203.0.113.7)")
	wantOK(t, r, "domain", "v6.example.com", "resolves to this host")
	wantProblem(t, r, "domain", "elsewhere.example.com (app shop)", "resolves to 192.0.2.1, not to this host (203.0.113.7)",
		"point elsewhere.example.com's A/AAAA records at 203.0.113.7, or remove it: berth domains:remove shop elsewhere.example.com")
	wantProblem(t, r, "domain", "half.example.com", "resolves to 192.0.2.9, not to this host", "berth domains:remove shop half.example.com")
	wantProblem(t, r, "domain", "gone.example.com (app blog)", "does not resolve (no such name)", "berth domains:remove blog gone.example.com")
	wantProblem(t, r, "domain", "slow.example.com", "DNS lookup timed out after 50ms", "domains:remove")
	wantOK(t, r, "domain", "*.apps.example.com", "resolves to this host")
	wantProblem(t, r, "domain", "*.other.example.com", "resolves to 192.0.2.1", "point berth-doctor-check.other.example.com's A/AAAA records")
	wantOK(t, r, "domain", "blog.localhost", ".localhost name")
	wantOK(t, r, "domain", "203.0.113.7 (app blog)", "this host's address")
	wantProblem(t, r, "domain", "198.51.100.1", "an IP address that is not this host's", "berth domains:remove blog 198.51.100.1")
}

func TestCerts(t *testing.T) {
	t.Parallel()
	c := base()
	c.State = fakeState{certs: []Cert{
		{App: "shop", Source: "custom", Domains: []string{"shop.example.com"}, NotAfter: now.Add(3 * 24 * time.Hour)},
		{App: "blog", Source: "letsencrypt", Domains: []string{"blog.example.com"}, NotAfter: now.Add(60 * 24 * time.Hour),
			LastError: "acme: authorization failed\ndetail", LastTryAt: now.Add(-time.Hour)},
		{App: "old", Source: "self-signed", NotAfter: now.Add(-time.Hour)},
		{App: "fine", Source: "letsencrypt", NotAfter: now.Add(80 * 24 * time.Hour)},
	}}
	r := New(c).Run(context.Background())
	wantProblem(t, r, "cert", "certificate of shop (shop.example.com)", "custom certificate expires on 2026-12-09 12:00 UTC, in 3 days", "berth certs:update shop server.crt server.key")
	wantOK(t, r, "cert", "certificate of blog", "valid until 2027-02-04")
	wantProblem(t, r, "cert", "certificate of blog", "the last renewal failed (2026-12-06 11:00 UTC): acme: authorization failed", "berth letsencrypt:auto-renew blog")
	wantProblem(t, r, "cert", "certificate of old", "self-signed certificate expired on 2026-12-06 11:00 UTC", "berth certs:generate old")
	wantOK(t, r, "cert", "certificate of fine", "letsencrypt certificate valid until")
	if n := r.Problems(); n != 3 {
		t.Errorf("%d problems, want 3: %+v", n, r.Checks)
	}
}

func TestBackups(t *testing.T) {
	t.Parallel()
	c := base()
	c.State = fakeState{backups: []Backup{
		{Kind: "postgres", Service: "db", Schedule: "@daily", Dir: "/b", Since: now.Add(-30 * 24 * time.Hour), LastOK: now.Add(-20 * time.Hour)},
		{Kind: "postgres", Service: "stale", Schedule: "0 3 * * *", Dir: "/b", Since: now.Add(-30 * 24 * time.Hour), LastOK: now.Add(-3 * 24 * time.Hour)},
		{Kind: "redis", Service: "failing", Schedule: "@hourly", Dir: "/b", Since: now.Add(-time.Hour), LastOK: now.Add(-2 * time.Hour),
			LastFailed: now.Add(-time.Minute), LastError: "pg_dump: connection refused"},
		{Kind: "redis", Service: "never", Schedule: "@hourly", Dir: "/b", Since: now.Add(-5 * time.Hour)},
		{Kind: "redis", Service: "new", Schedule: "@daily", Dir: "/b", Since: now.Add(-time.Hour)},
		{Kind: "redis", Service: "weekdays", Schedule: "0 3 * * 1-5", Dir: "/b", Since: now.Add(-30 * 24 * time.Hour), LastOK: now.Add(-3 * 24 * time.Hour)},
		{Kind: "redis", Service: "recovered", Schedule: "@daily", Dir: "/b", LastOK: now.Add(-time.Hour), LastFailed: now.Add(-2 * time.Hour), LastError: "x"},
	}}
	r := New(c).Run(context.Background())
	wantOK(t, r, "backup", "postgres db", "last backup 20h ago (every 24h)")
	wantProblem(t, r, "backup", "postgres stale", "the last backup 3d ago, more than twice its interval (24h)", "berth postgres:backup stale /b; is the daemon up")
	wantProblem(t, r, "backup", "redis failing", "the last backup failed (2026-12-06 11:59 UTC): pg_dump: connection refused", "berth redis:backup failing /b (retries now")
	wantProblem(t, r, "backup", "redis never", "no backup since the schedule was set 5h ago", "berth redis:backup never /b")
	wantOK(t, r, "backup", "redis new", "no backup yet")
	// Sunday: Friday 03:00 to Monday 03:00 is its longest gap (3 days).
	wantOK(t, r, "backup", "redis weekdays", "every 3d")
	wantOK(t, r, "backup", "redis recovered", "last backup 1h ago")
}

func TestDrills(t *testing.T) {
	t.Parallel()
	c := base()
	c.State = fakeState{backups: []Backup{
		{Kind: "postgres", Service: "never", Schedule: "@daily", Dir: "/b", Since: now.Add(-time.Hour), Drillable: true},
		{Kind: "postgres", Service: "passed", Schedule: "@daily", Dir: "/b", Since: now.Add(-time.Hour), Drillable: true,
			Drill: &Drill{At: now.Add(-2 * time.Hour), File: "/b/x.dump", OK: true}},
		{Kind: "postgres", Service: "failed", Schedule: "@daily", Dir: "/b", Since: now.Add(-time.Hour), Drillable: true,
			Drill: &Drill{At: now.Add(-time.Minute), File: "/b/y.dump", Error: "1 of 2 tables differs\nmore"}},
		{Kind: "redis", Service: "cache", Schedule: "@daily", Dir: "/b", Since: now.Add(-time.Hour)},
	}}
	r := New(c).Run(context.Background())
	if got := find(t, r, "drill", "postgres never")[0]; !got.OK || !got.Warning || !strings.Contains(got.Message, "never restored in a drill") ||
		got.Fix != "berth postgres:backup-verify never (or add --verify to its backup-schedule)" {
		t.Errorf("never drilled: %+v", got)
	}
	wantOK(t, r, "drill", "postgres passed", "the last restore drill passed 2h ago")
	wantProblem(t, r, "drill", "postgres failed", "the last restore drill failed (2026-12-06 11:59 UTC, /b/y.dump): 1 of 2 tables differs", "berth postgres:backup-verify failed")
	for _, ch := range r.Checks {
		if ch.Check == "drill" && ch.Subject == "redis cache" {
			t.Errorf("a drill check of redis: %+v", ch)
		}
	}
	if n := r.Problems(); n != 1 {
		t.Errorf("%d problems, want 1 (the warning is none): %+v", n, r.Checks)
	}
}

func TestOpenSSH(t *testing.T) {
	t.Parallel()
	c := base()
	c.OpenSSH = fakeSSH{api.OpenSSHReport{Mode: "off"}}
	wantOK(t, New(c).Run(context.Background()), "openssh", "OpenSSH mode", "off (BERTH_OPENSSH=off)")
	c.OpenSSH = fakeSSH{api.OpenSSHReport{Mode: "auto"}}
	wantOK(t, New(c).Run(context.Background()), "openssh", "OpenSSH mode", "sshd is not installed")

	good := api.OpenSSHReport{Mode: "auto", Active: true, AuthorizedKeys: "/var/lib/berth/authorized_keys", KeysListed: 2, InStep: true,
		Users: []api.SSHUserReport{{Name: "berth", OK: true}, {Name: "dokku", OK: true}}}
	c.OpenSSH = fakeSSH{good}
	c.Listeners = fakeListeners{{Addr: netip.MustParseAddrPort("0.0.0.0:22"), PID: 1, Command: "sshd"}}
	r := New(c).Run(context.Background())
	wantOK(t, r, "openssh", "OpenSSH mode", "users berth, dokku set up; /var/lib/berth/authorized_keys lists the 2 registered keys")
	wantOK(t, r, "port", "port :22", "sshd listens (sshd (pid 1))")

	bad := good
	bad.InStep, bad.Problems = false, []string{"/var/lib/berth/authorized_keys does not list exactly the 3 registered keys"}
	c.OpenSSH = fakeSSH{bad}
	c.Listeners = fakeListeners{}
	r = New(c).Run(context.Background())
	wantProblem(t, r, "openssh", "OpenSSH mode", "does not list exactly the 3 registered keys", "systemctl restart berth")
	wantProblem(t, r, "port", "port :22", "nothing listens on port 22; sshd should", "systemctl start ssh")
}

func TestParseProcNet(t *testing.T) {
	t.Parallel()
	text := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F91 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1
   3: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 778 1
`
	got := parseProcNet(text)
	want := map[string]string{"12345": "127.0.0.1:8080", "777": "[::]:443", "778": "[::1]:22"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for inode, ap := range want {
		if got[inode].String() != ap {
			t.Errorf("inode %s: %v, want %s", inode, got[inode], ap)
		}
	}
}

// TestProcListeners finds a socket this test listens on, held by this
// process.
func TestProcListeners(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := netip.MustParseAddrPort(ln.Addr().String())
	ls, err := ProcListeners{}.Listeners()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Addr == want {
			if l.PID != os.Getpid() {
				t.Errorf("listener %v: pid %d, want %d", want, l.PID, os.Getpid())
			}
			return
		}
	}
	t.Errorf("listener %v not found among %d", want, len(ls))
}

// TestSnapshotShare: the snapshots before migrations show their share of
// the data dir.
func TestSnapshotShare(t *testing.T) {
	t.Parallel()
	c := base()
	c.DataDir = t.TempDir()
	c.Disks = fakeDisks{c.DataDir: {Total: 100 << 30, Free: 50 << 30}}
	r := New(c).Run(context.Background())
	for _, ch := range r.Checks {
		if ch.Subject == "snapshots before migrations" {
			t.Fatalf("a share without snapshots: %+v", ch)
		}
	}
	dir := filepath.Join(c.DataDir, "services", "postgres", "db", "snapshots")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"shop-v1.dump", "shop-v2.dump"} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 3<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r = New(c).Run(context.Background())
	wantOK(t, r, "disk", "snapshots before migrations", "6 MiB in 2 files")
}
