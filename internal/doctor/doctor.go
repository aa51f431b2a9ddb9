// Package doctor is `berth doctor`: it looks at what a Berth host depends
// on (the engine, its ports, disk space, DNS, certificates, backups, the
// clock and OpenSSH mode) and says, for each, that it is fine or what is
// wrong and the one command that fixes it.
//
// Every source it reads is a small interface given at construction, so
// each check's logic is tested on fakes; the daemon fills them with the
// engine, the store, the system's resolver and the host's /proc.
package doctor

import (
	"context"
	"net/netip"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// Engine is the container engine as the doctor sees it.
type Engine interface {
	Info(ctx context.Context) (EngineInfo, error)
}

// EngineInfo is what the engine says of itself.
type EngineInfo struct {
	Version string
	RootDir string    // its data root, e.g. /var/lib/docker
	Time    time.Time // its clock when it answered; zero if it did not say
}

// State is what Berth keeps: domains, certificates, backup schedules.
type State interface {
	Domains(ctx context.Context) ([]Domain, error)
	Certs(ctx context.Context) ([]Cert, error)
	Backups(ctx context.Context) ([]Backup, error)
}

// Domain is one of an app's domains.
type Domain struct{ App, Name string }

// Cert is an app's certificate.
type Cert struct {
	App       string
	Source    string // custom, self-signed, letsencrypt
	Domains   []string
	NotAfter  time.Time
	LastError string // the last renewal's error, "" when it worked
	LastTryAt time.Time
}

// Backup is a service's backup schedule and its last runs.
type Backup struct {
	Kind, Service string
	Schedule      string    // a cron spec
	Dir           string    // where backups go
	Since         time.Time // when the schedule was set
	LastOK        time.Time // zero: never
	LastFailed    time.Time // zero: never
	LastError     string
	// Drillable says whether restore drills exist for the kind
	// (KIND:backup-verify); Drill is the latest, nil when none ran.
	Drillable bool
	Drill     *Drill
}

// Drill is the outcome of a restore drill of a service's backup.
type Drill struct {
	At    time.Time
	File  string
	OK    bool
	Error string
}

// OpenSSH reports OpenSSH mode (ssh-keys:report's logic).
type OpenSSH interface {
	OpenSSHReport(ctx context.Context) (api.OpenSSHReport, error)
}

// Resolver looks up a host name's addresses.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Listener is a listening TCP socket and the process holding it.
type Listener struct {
	Addr    netip.AddrPort
	PID     int    // 0 when unknown
	Command string // the process's name (comm), "" when unknown
}

// Listeners lists the host's listening TCP sockets.
type Listeners interface {
	Listeners() ([]Listener, error)
}

// Usage is a file system's free space and inodes.
type Usage struct {
	Total, Free   uint64 // bytes
	Inodes, IFree uint64 // 0 Inodes: the file system does not count them
}

// Disks reports the file system holding a path.
type Disks interface {
	Usage(path string) (Usage, error)
}

// Port is a port Berth listens on (or expects sshd on).
type Port struct {
	Setting string // BERTH_HTTP_ADDR, ...; "" for sshd's port 22
	Addr    string // host:port where it should listen; "" or "off": not at all
	Owner   string // who should hold it, for the message: "the berth proxy"
	// Owns says whether a listener is the expected owner's.
	Owns func(Listener) bool
	// Fix is the command that starts the owner when nothing listens.
	Fix string
}

// Config is the doctor's sources and thresholds. A nil source skips its
// checks (OpenSSH nil: OpenSSH mode is not Berth's business here).
type Config struct {
	Engine    Engine
	State     State
	OpenSSH   OpenSSH
	Resolver  Resolver
	HostAddrs func() ([]netip.Addr, error)
	Listeners Listeners
	Disks     Disks
	Now       func() time.Time

	DataDir    string
	ConfigFile string
	Ports      []Port

	// LookupTimeout bounds each DNS lookup (default 2s).
	LookupTimeout time.Duration
	// MinFree and MinFreeBytes: a file system is short of space below
	// either (defaults 10% and 2 GiB); MinFreeInodes likewise (10%).
	MinFree       float64
	MinFreeBytes  uint64
	MinFreeInodes float64
	// CertWarn: a certificate expiring within it is a problem (14 days).
	CertWarn time.Duration
	// MaxSkew: the engine's clock further off is a problem (5s).
	MaxSkew time.Duration
}

// Doctor runs the checks.
type Doctor struct{ c Config }

// New is a doctor over c, with defaults filled in.
func New(c Config) *Doctor {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.LookupTimeout == 0 {
		c.LookupTimeout = 2 * time.Second
	}
	if c.MinFree == 0 {
		c.MinFree = 0.10
	}
	if c.MinFreeBytes == 0 {
		c.MinFreeBytes = 2 << 30
	}
	if c.MinFreeInodes == 0 {
		c.MinFreeInodes = 0.10
	}
	if c.CertWarn == 0 {
		c.CertWarn = 14 * 24 * time.Hour
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = 5 * time.Second
	}
	return &Doctor{c: c}
}

// Run runs every check and returns them in a fixed order: engine, clock,
// ports, disks, domains, certificates, backups (and their restore drills),
// OpenSSH mode.
func (d *Doctor) Run(ctx context.Context) api.DoctorReport {
	var r report
	info, engineOK := d.engine(ctx, &r)
	if engineOK {
		d.clock(ctx, &r, info)
	}
	d.ports(&r)
	d.disks(&r, info.RootDir)
	if d.c.State != nil {
		d.domains(ctx, &r)
		d.certs(ctx, &r)
		d.backups(ctx, &r)
	}
	if d.c.OpenSSH != nil {
		d.openssh(ctx, &r)
	}
	return api.DoctorReport{Checks: r.checks}
}

// report collects the checks.
type report struct{ checks []api.DoctorCheck }

func (r *report) ok(check, subject, msg string) {
	r.checks = append(r.checks, api.DoctorCheck{Check: check, Subject: subject, OK: true, Message: msg})
}

// warn is a check that is not a problem but deserves attention.
func (r *report) warn(check, subject, msg, fix string) {
	r.checks = append(r.checks, api.DoctorCheck{Check: check, Subject: subject, OK: true, Warning: true, Message: msg, Fix: fix})
}

func (r *report) problem(check, subject, msg, fix string) {
	r.checks = append(r.checks, api.DoctorCheck{Check: check, Subject: subject, Message: msg, Fix: fix})
}
