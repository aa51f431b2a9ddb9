package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// engine checks that the engine answers; the clock check uses its answer.
func (d *Doctor) engine(ctx context.Context, r *report) (engineAnswer, bool) {
	if d.c.Engine == nil {
		r.problem("engine", "Docker", "no engine client", "systemctl start docker")
		return engineAnswer{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	before := d.c.Now()
	info, err := d.c.Engine.Info(ctx)
	after := d.c.Now()
	if err != nil {
		r.problem("engine", "Docker", "not reachable: "+firstLine(err.Error()), "systemctl start docker (then: docker info)")
		return engineAnswer{}, false
	}
	r.ok("engine", "Docker", "version "+info.Version+" answers")
	return engineAnswer{EngineInfo: info, before: before, after: after}, true
}

type engineAnswer struct {
	EngineInfo
	before, after time.Time // this host's clock around the call
}

// clock compares this host's clock with the engine's: a local engine shares
// it, a remote one (DOCKER_HOST) may not. Nothing else is asked: no
// internet.
func (d *Doctor) clock(_ context.Context, r *report, a engineAnswer) {
	if a.Time.IsZero() {
		r.ok("clock", "clock", "the engine did not report its time: not compared")
		return
	}
	mid := a.before.Add(a.after.Sub(a.before) / 2)
	skew := a.Time.Sub(mid)
	slack := a.after.Sub(a.before)/2 + d.c.MaxSkew
	if skew > slack || -skew > slack {
		dir := "ahead of"
		if skew < 0 {
			dir = "behind"
		}
		r.problem("clock", "clock", fmt.Sprintf("the engine's clock is %s %s this host's (more than %s)", skew.Abs().Round(time.Second), dir, d.c.MaxSkew),
			"timedatectl set-ntp true (on this host and the engine's)")
		return
	}
	r.ok("clock", "clock", fmt.Sprintf("within %s of the engine's", d.c.MaxSkew))
}

// ports checks that each of Berth's ports is held by the process that
// should hold it.
func (d *Doctor) ports(r *report) {
	var ls []Listener
	var lerr error
	if d.c.Listeners != nil {
		ls, lerr = d.c.Listeners.Listeners()
	}
	for _, p := range d.c.Ports {
		d.port(r, p, ls, lerr)
	}
}

func (d *Doctor) port(r *report, p Port, ls []Listener, lerr error) {
	subject := "port " + p.Addr
	if p.Setting != "" {
		subject += " (" + p.Setting + ")"
	}
	if p.Addr == "" || p.Addr == "off" {
		r.ok("port", p.Setting, "off")
		return
	}
	host, portStr, err := net.SplitHostPort(p.Addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil {
		r.problem("port", subject, "not a host:port address", "set "+p.Setting+" to HOST:PORT in "+d.c.ConfigFile+" and systemctl restart berth")
		return
	}
	if d.c.Listeners == nil || lerr != nil {
		r.problem("port", subject, fmt.Sprintf("cannot list the listening sockets: %v", lerr), "run berth doctor as root")
		return
	}
	want, _ := netip.ParseAddr(host)
	var held []Listener
	for _, l := range ls {
		if int(l.Addr.Port()) != port {
			continue
		}
		if host != "" && want.IsValid() && !l.Addr.Addr().IsUnspecified() && l.Addr.Addr().Unmap() != want.Unmap() {
			continue
		}
		held = append(held, l)
	}
	if len(held) == 0 {
		r.problem("port", subject, fmt.Sprintf("nothing listens on port %d; %s should", port, p.Owner), p.Fix)
		return
	}
	for _, l := range held {
		if p.Owns != nil && p.Owns(l) {
			r.ok("port", subject, fmt.Sprintf("%s listens (%s)", p.Owner, who(l)))
			return
		}
	}
	l := held[0]
	fix := fmt.Sprintf("stop %s, or move Berth: set %s in %s, then systemctl restart berth", who(l), p.Setting, d.c.ConfigFile)
	if p.Setting == "" {
		fix = fmt.Sprintf("stop %s and start sshd (systemctl start ssh)", who(l))
	}
	r.problem("port", subject, fmt.Sprintf("port %d is held by %s, not %s", port, who(l), p.Owner), fix)
}

func who(l Listener) string {
	switch {
	case l.PID == 0:
		return "an unknown process"
	case l.Command == "":
		return fmt.Sprintf("pid %d", l.PID)
	}
	return fmt.Sprintf("%s (pid %d)", l.Command, l.PID)
}

// disks checks the free space and inodes of the data dir and of the
// engine's data root.
func (d *Doctor) disks(r *report, rootDir string) {
	if d.c.Disks == nil {
		return
	}
	d.disk(r, "data dir "+d.c.DataDir, d.c.DataDir,
		fmt.Sprintf("find what grew: du -xsh %s/* (old backups or snapshots? set KIND:backup-schedule --keep, releases:set APP snapshots-keep), or grow the disk", d.c.DataDir))
	// The snapshots taken before migrations are the data dir's to keep:
	// their share, so that a growing one is seen before the disk is full.
	if n, size := snapshotUse(d.c.DataDir); n > 0 {
		r.ok("disk", "snapshots before migrations", fmt.Sprintf("%s in %d files under %s/services/postgres/*/snapshots (releases:set APP snapshots-keep N keeps fewer)", bytesText(size), n, d.c.DataDir))
	}
	if rootDir != "" {
		d.disk(r, "Docker's data root "+rootDir, rootDir, "docker builder prune (the build cache), then docker system df to see what else is large")
	}
}

func (d *Doctor) disk(r *report, subject, path, fix string) {
	u, err := d.c.Disks.Usage(path)
	if err != nil {
		r.problem("disk", subject, "cannot read its file system: "+firstLine(err.Error()), "check that "+path+" exists and is mounted")
		return
	}
	free := float64(u.Free) / float64(max(u.Total, 1))
	msg := fmt.Sprintf("%s free of %s (%.0f%%)", bytesText(u.Free), bytesText(u.Total), free*100)
	var short []string
	if free < d.c.MinFree || u.Free < d.c.MinFreeBytes {
		short = append(short, fmt.Sprintf("space (under %.0f%% or %s)", d.c.MinFree*100, bytesText(d.c.MinFreeBytes)))
	}
	if u.Inodes > 0 {
		ifree := float64(u.IFree) / float64(u.Inodes)
		msg += fmt.Sprintf(", %.0f%% of inodes free", ifree*100)
		if ifree < d.c.MinFreeInodes {
			short = append(short, fmt.Sprintf("inodes (under %.0f%%)", d.c.MinFreeInodes*100))
		}
	}
	if len(short) > 0 {
		r.problem("disk", subject, msg+": short of "+strings.Join(short, " and "), fix)
		return
	}
	r.ok("disk", subject, msg)
}

// snapshotUse counts the files and bytes of the services' snapshots
// (DATA/services/KIND/NAME/snapshots/*).
func snapshotUse(dataDir string) (int, uint64) {
	files, _ := filepath.Glob(filepath.Join(dataDir, "services", "*", "*", "snapshots", "*"))
	var n int
	var size uint64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			n++
			size += uint64(st.Size())
		}
	}
	return n, size
}

func bytesText(n uint64) string {
	const gib = 1 << 30
	if n >= gib {
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// domains checks that each app domain resolves to this host.
func (d *Doctor) domains(ctx context.Context, r *report) {
	ds, err := d.c.State.Domains(ctx)
	if err != nil {
		r.problem("domain", "domains", "cannot read: "+firstLine(err.Error()), "systemctl restart berth")
		return
	}
	if len(ds) == 0 {
		return
	}
	var host []netip.Addr
	if d.c.HostAddrs != nil {
		if host, err = d.c.HostAddrs(); err != nil {
			r.problem("domain", "this host's addresses", firstLine(err.Error()), "check the network interfaces: ip addr")
			return
		}
	}
	results := make([]domainResult, len(ds))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, dm := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = d.resolve(ctx, dm.Name, host)
		}()
	}
	wg.Wait()
	for i, dm := range ds {
		res := results[i]
		subject := dm.Name + " (app " + dm.App + ")"
		if res.ok {
			r.ok("domain", subject, res.msg)
			continue
		}
		r.problem("domain", subject, res.msg, fmt.Sprintf("point %s's A/AAAA records at %s, or remove it: berth domains:remove %s %s", lookupName(dm.Name), publicAddr(host), dm.App, dm.Name))
	}
}

type domainResult struct {
	ok  bool
	msg string
}

// lookupName is the name looked up for a domain: a wildcard's is a name
// under it.
func lookupName(domain string) string {
	if rest, ok := strings.CutPrefix(domain, "*."); ok {
		return "berth-doctor-check." + rest
	}
	return domain
}

func (d *Doctor) resolve(ctx context.Context, domain string, host []netip.Addr) domainResult {
	name := strings.TrimSuffix(strings.ToLower(domain), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return domainResult{true, "a .localhost name: this host by definition (RFC 6761)"}
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		if slices.Contains(host, ip.Unmap()) {
			return domainResult{true, "this host's address"}
		}
		return domainResult{false, "an IP address that is not this host's"}
	}
	if d.c.Resolver == nil {
		return domainResult{true, "not looked up (no resolver)"}
	}
	lctx, cancel := context.WithTimeout(ctx, d.c.LookupTimeout)
	defer cancel()
	answers, err := d.c.Resolver.LookupHost(lctx, lookupName(name))
	if err != nil {
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsNotFound:
			return domainResult{false, "does not resolve (no such name)"}
		case lctx.Err() != nil || (errors.As(err, &de) && de.IsTimeout):
			return domainResult{false, fmt.Sprintf("DNS lookup timed out after %s", d.c.LookupTimeout)}
		}
		return domainResult{false, "DNS lookup failed: " + firstLine(err.Error())}
	}
	var elsewhere []string
	for _, a := range answers {
		ip, err := netip.ParseAddr(a)
		if err != nil || !slices.Contains(host, ip.Unmap()) {
			elsewhere = append(elsewhere, a)
		}
	}
	if len(answers) == 0 {
		return domainResult{false, "does not resolve (no addresses)"}
	}
	if len(elsewhere) > 0 {
		return domainResult{false, fmt.Sprintf("resolves to %s, not to this host (%s)", strings.Join(elsewhere, ", "), addrsText(host))}
	}
	return domainResult{true, "resolves to this host (" + strings.Join(answers, ", ") + ")"}
}

// publicAddr is the address to name in a fix: the first global unicast
// one, else the first that is not loopback.
func publicAddr(host []netip.Addr) string {
	for _, a := range host {
		if a.IsGlobalUnicast() && !a.IsPrivate() {
			return a.String()
		}
	}
	for _, a := range host {
		if !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			return a.String()
		}
	}
	return "this host's public address"
}

func addrsText(host []netip.Addr) string {
	var s []string
	for _, a := range host {
		if !a.IsLoopback() && !a.IsLinkLocalUnicast() {
			s = append(s, a.String())
		}
	}
	if len(s) == 0 {
		return "loopback only"
	}
	if len(s) > 4 {
		s = append(s[:4], "...")
	}
	return strings.Join(s, ", ")
}

// certs checks each app's certificate: expiry and the last renewal.
func (d *Doctor) certs(ctx context.Context, r *report) {
	cs, err := d.c.State.Certs(ctx)
	if err != nil {
		r.problem("cert", "certificates", "cannot read: "+firstLine(err.Error()), "systemctl restart berth")
		return
	}
	now := d.c.Now()
	for _, c := range cs {
		subject := "certificate of " + c.App
		if len(c.Domains) > 0 {
			subject += " (" + strings.Join(c.Domains, ", ") + ")"
		}
		left := c.NotAfter.Sub(now)
		date := c.NotAfter.UTC().Format("2006-01-02 15:04 UTC")
		var fix string
		switch c.Source {
		case "letsencrypt":
			fix = "berth letsencrypt:auto-renew " + c.App
		case "self-signed":
			fix = "berth certs:generate " + c.App
		default:
			fix = "berth certs:update " + c.App + " server.crt server.key (a renewed certificate)"
		}
		switch {
		case left <= 0:
			r.problem("cert", subject, fmt.Sprintf("%s certificate expired on %s", c.Source, date), fix)
		case left < d.c.CertWarn:
			r.problem("cert", subject, fmt.Sprintf("%s certificate expires on %s, in %s", c.Source, date, daysText(left)), fix)
		default:
			r.ok("cert", subject, fmt.Sprintf("%s certificate valid until %s", c.Source, date))
		}
		if c.LastError != "" {
			r.problem("cert", subject, fmt.Sprintf("the last renewal failed (%s): %s", c.LastTryAt.UTC().Format("2006-01-02 15:04 UTC"), firstLine(c.LastError)),
				"fix the cause above (DNS, port 80), then: berth letsencrypt:auto-renew "+c.App)
		}
	}
}

func daysText(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// backups checks each scheduled service's last backup: it failed, or is
// older than twice the schedule's interval.
func (d *Doctor) backups(ctx context.Context, r *report) {
	bs, err := d.c.State.Backups(ctx)
	if err != nil {
		r.problem("backup", "backups", "cannot read: "+firstLine(err.Error()), "systemctl restart berth")
		return
	}
	now := d.c.Now()
	defer func() {
		// The drills after the backups (the loop below continues early).
		for _, b := range bs {
			drill(r, b, now)
		}
	}()
	for _, b := range bs {
		subject := b.Kind + " " + b.Service
		retry := fmt.Sprintf("berth %s:backup %s %s", b.Kind, b.Service, b.Dir)
		if !b.LastFailed.IsZero() && b.LastFailed.After(b.LastOK) {
			r.problem("backup", subject, fmt.Sprintf("the last backup failed (%s): %s", b.LastFailed.UTC().Format("2006-01-02 15:04 UTC"), firstLine(b.LastError)),
				retry+" (retries now and shows the error)")
			continue
		}
		interval, err := scheduleInterval(b.Schedule, now)
		if err != nil {
			r.problem("backup", subject, fmt.Sprintf("its schedule %q cannot be read: %v", b.Schedule, err), fmt.Sprintf("berth %s:backup-schedule %s \"0 3 * * *\" %s", b.Kind, b.Service, b.Dir))
			continue
		}
		ref, what := b.LastOK, "the last backup"
		if ref.IsZero() {
			ref, what = b.Since, "no backup since the schedule was set"
		}
		age := now.Sub(ref)
		if age > 2*interval {
			r.problem("backup", subject, fmt.Sprintf("%s %s ago, more than twice its interval (%s)", what, ageText(age), ageText(interval)),
				retry+"; is the daemon up at the scheduled time? (berth "+b.Kind+":backup-schedule-cat "+b.Service+")")
			continue
		}
		if b.LastOK.IsZero() {
			r.ok("backup", subject, fmt.Sprintf("scheduled %q, no backup yet", b.Schedule))
			continue
		}
		r.ok("backup", subject, fmt.Sprintf("last backup %s ago (every %s)", ageText(age), ageText(interval)))
	}
}

// drill checks a scheduled service's last restore drill: a failed one is
// a problem (its backups may not restore); none at all is a warning.
func drill(r *report, b Backup, now time.Time) {
	if !b.Drillable {
		return
	}
	subject := b.Kind + " " + b.Service
	verify := fmt.Sprintf("berth %s:backup-verify %s", b.Kind, b.Service)
	switch {
	case b.Drill == nil:
		r.warn("drill", subject, "its backups were never restored in a drill",
			verify+" (or add --verify to its backup-schedule)")
	case !b.Drill.OK:
		r.problem("drill", subject, fmt.Sprintf("the last restore drill failed (%s, %s): %s", b.Drill.At.UTC().Format("2006-01-02 15:04 UTC"), b.Drill.File, firstLine(b.Drill.Error)),
			verify+" (shows the table of row counts)")
	default:
		r.ok("drill", subject, fmt.Sprintf("the last restore drill passed %s ago", ageText(now.Sub(b.Drill.At))))
	}
}

// scheduleInterval is the longest gap between the next few runs of a cron
// spec (a schedule on weekdays waits longer over the weekend).
func scheduleInterval(spec string, from time.Time) (time.Duration, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return 0, err
	}
	var longest time.Duration
	t := s.Next(from)
	for range 16 {
		n := s.Next(t)
		if n.IsZero() {
			break
		}
		longest = max(longest, n.Sub(t))
		t = n
	}
	if longest == 0 {
		return 0, errors.New("it never runs")
	}
	return longest, nil
}

func ageText(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return d.Round(time.Second).String()
}

// openssh checks OpenSSH mode through ssh-keys:report's logic, and sshd on
// its port while the mode is on.
func (d *Doctor) openssh(ctx context.Context, r *report) {
	rep, err := d.c.OpenSSH.OpenSSHReport(ctx)
	if err != nil {
		r.problem("openssh", "OpenSSH mode", "cannot check: "+firstLine(err.Error()), "berth ssh-keys:report")
		return
	}
	if !rep.Active {
		why := "off (BERTH_OPENSSH=off)"
		if rep.Mode != "off" {
			why = "not in use: sshd is not installed"
		}
		r.ok("openssh", "OpenSSH mode", why)
		return
	}
	var ls []Listener
	var lerr error
	if d.c.Listeners != nil {
		ls, lerr = d.c.Listeners.Listeners()
	}
	d.port(r, Port{Addr: ":22", Owner: "sshd", Owns: func(l Listener) bool { return l.Command == "sshd" }, Fix: "systemctl start ssh"}, ls, lerr)
	if len(rep.Problems) == 0 && rep.InStep {
		var users []string
		for _, u := range rep.Users {
			users = append(users, u.Name)
		}
		r.ok("openssh", "OpenSSH mode", fmt.Sprintf("users %s set up; %s lists the %d registered keys", strings.Join(users, ", "), rep.AuthorizedKeys, rep.KeysListed))
		return
	}
	probs := rep.Problems
	if len(probs) == 0 {
		probs = []string{rep.AuthorizedKeys + " is not in step with the registered keys"}
	}
	for _, p := range probs {
		r.problem("openssh", "OpenSSH mode", p, "systemctl restart berth (it sets up the users and keys at start); details: berth ssh-keys:report")
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
