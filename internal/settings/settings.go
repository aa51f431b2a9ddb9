// Package settings loads the daemon's own settings: where it keeps its data
// and which addresses it listens on. Each setting has one name, used as the
// environment variable, as the key in the config file, and (lower-cased,
// without BERTH_) as the flag.
package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
)

var prefixRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`) })

// DefaultDataDir is where Berth keeps everything unless told otherwise.
const DefaultDataDir = "/var/lib/berth"

// DefaultNetworkPool is where the subnets of Berth's networks come from
// unless told otherwise: 256 app networks, or 1024 service networks.
const DefaultNetworkPool = "10.210.0.0/16"

// Settings are the daemon's settings after defaults, the config file, the
// environment and flags are applied, in that order of increasing weight.
type Settings struct {
	DataDir    string // BERTH_DATA_DIR
	ConfigFile string // BERTH_CONFIG: the config file, default DATA_DIR/berth.conf
	Socket     string // BERTH_SOCKET: the control socket, default DATA_DIR/berth.sock
	HTTPAddr   string // BERTH_HTTP_ADDR: the proxy's HTTP listener
	HTTPSAddr  string // BERTH_HTTPS_ADDR: the proxy's HTTPS listener
	SSHAddr    string // BERTH_SSH_ADDR: the built-in ssh server
	// APIAddr is where the daemon serves its HTTP API (BERTH_API_ADDR,
	// default 127.0.0.1:2780; empty: off). Keep it on loopback: the proxy
	// serves it at the domain of dashboard:set.
	APIAddr   string
	LogLevel  string // BERTH_LOG_LEVEL: debug, info, warn, error
	LogFormat string // BERTH_LOG_FORMAT: text or json
	// NamePrefix is put before the name of every Docker object Berth creates
	// (containers, images, networks), so several instances can share one
	// engine without seeing each other's (BERTH_NAME_PREFIX, default empty).
	NamePrefix string
	// ProxySocket is the proxy process's control socket
	// (BERTH_PROXY_SOCKET, default DATA_DIR/proxy.sock).
	ProxySocket string
	// SSHSocket is the socket OpenSSH's forced commands reach the daemon
	// through (BERTH_SSH_SOCKET, default DATA_DIR/berth-ssh.sock).
	SSHSocket string
	// SSHGroup may use SSHSocket: the group of the berth and dokku system
	// users (BERTH_SSH_GROUP, default berth).
	SSHGroup string
	// StorageDir holds the directories of storage:create and
	// storage:ensure-directory (BERTH_STORAGE_DIR, default DATA_DIR/storage).
	StorageDir string
	// AccessLog makes the proxy log one line per request
	// (BERTH_ACCESS_LOG: true or false).
	AccessLog string
	// ACMECARoots is a PEM file of extra roots to trust when talking to
	// the ACME server (BERTH_ACME_CA_ROOTS): for a private or test CA such
	// as Pebble. Empty: the system's roots only.
	ACMECARoots string
	// AuthorizedKeys is the authorized_keys file Berth keeps for OpenSSH
	// mode (BERTH_AUTHORIZED_KEYS); empty: DATA_DIR/authorized_keys while
	// OpenSSH mode is on, none otherwise.
	AuthorizedKeys string
	// OpenSSH turns OpenSSH mode on when the host has sshd ("auto", the
	// default) or never ("off") (BERTH_OPENSSH).
	OpenSSH string
	// OpenSSHUsers are the system users sshd logs in as for Berth, comma
	// separated (BERTH_OPENSSH_USERS, default berth,dokku).
	OpenSSHUsers string
	// OpenSSHHome is where the homes of the users Berth creates go
	// (BERTH_OPENSSH_HOME, default /home).
	OpenSSHHome string
	// DNSServer is the DNS server (HOST:PORT) berth doctor asks whether
	// the apps' domains resolve to this host (BERTH_DNS_SERVER); empty:
	// the system's resolver.
	DNSServer string
	// ServiceImages are the images of new postgres and redis services,
	// under Dokku's names (POSTGRES_IMAGE, POSTGRES_IMAGE_VERSION,
	// REDIS_IMAGE, REDIS_IMAGE_VERSION): the official images by default.
	PostgresImage, PostgresImageVersion, RedisImage, RedisImageVersion string
	// NetworkPool is the IPv4 range the subnets of the networks Berth
	// creates (one per service, one per linked app) are taken from, so
	// they do not use up the engine's default address pools
	// (BERTH_NETWORK_POOL, default 10.210.0.0/16; /8 to /24).
	NetworkPool string
	// CronTick is how often the scheduler of app.json cron tasks looks
	// for due tasks (BERTH_CRON_TICK, a duration, default 30s; tests
	// shorten it to run "@every 1s" tasks).
	CronTick string
	// NotifyRetryDelay is the wait before a failed notification's second
	// attempt, doubled after each (BERTH_NOTIFY_RETRY_DELAY, default 2s;
	// tests shorten it).
	NotifyRetryDelay string
	// ProxyControlAddr makes `berth serve-proxy` also serve its control
	// API over TCP with mutual TLS on HOST:PORT (port 7950 when left
	// out): the proxy of a cluster node (BERTH_PROXY_CONTROL_ADDR; empty:
	// the unix socket only).
	ProxyControlAddr string
	// ProxyControlTLSDir holds ca.crt, node.crt and node.key for it
	// (BERTH_PROXY_CONTROL_TLS_DIR).
	ProxyControlTLSDir string
	// PeerTimeout bounds each call of the daemon to another node's proxy
	// (BERTH_PROXY_PEER_TIMEOUT, default 2s); PeerResync is how often it
	// compares their tables with its own and fixes those that differ
	// (BERTH_PROXY_PEER_RESYNC, default 3s).
	PeerTimeout, PeerResync string
	// SwarmHeartbeat is the dispatcher heartbeat of a swarm made by
	// scheduler-swarm:cluster-init (BERTH_SWARM_HEARTBEAT, a duration,
	// default 5s, the engine's): a node is seen down after a few missed
	// ones. Tests shorten it to 1s.
	SwarmHeartbeat string
	// MetricsInterval is how often the daemon reads the proxy's request
	// counters into its metrics (BERTH_METRICS_INTERVAL, default 10s);
	// StatsInterval how often it samples the apps' containers' CPU and
	// memory from the engine (BERTH_STATS_INTERVAL, default 10s; "off":
	// never). Package metrics.
	MetricsInterval, StatsInterval string

	// reload loads them again from the same environment and flags (a
	// pointer, so that Settings stay comparable).
	reload *reloader
}

type reloader struct{ load func() (Settings, error) }

// Reload loads the settings again as Load did them (the same environment
// and flags, the config file as it is now): for the settings the daemon
// picks up without a restart (BERTH_AUTHORIZED_KEYS). Settings not made by
// Load are returned as they are.
func (s Settings) Reload() (Settings, error) {
	if s.reload == nil {
		return s, nil
	}
	return s.reload.load()
}

// field binds a setting's name to its place in Settings.
type field struct {
	name, def, help string
	ptr             func(*Settings) *string
}

var fields = []field{
	{"BERTH_SOCKET", "", "control socket (default: DATA_DIR/berth.sock); root-only", func(s *Settings) *string { return &s.Socket }},
	{"BERTH_HTTP_ADDR", ":80", "HTTP listener of the proxy", func(s *Settings) *string { return &s.HTTPAddr }},
	{"BERTH_HTTPS_ADDR", ":443", "HTTPS listener of the proxy", func(s *Settings) *string { return &s.HTTPSAddr }},
	{"BERTH_SSH_ADDR", ":2222", "built-in ssh server (git push, remote commands)", func(s *Settings) *string { return &s.SSHAddr }},
	{"BERTH_API_ADDR", "127.0.0.1:2780", "HTTP API of the daemon (loopback; the proxy serves it at dashboard:set domain); \"off\": none", func(s *Settings) *string { return &s.APIAddr }},
	{"BERTH_LOG_LEVEL", "info", "log level: debug, info, warn, error", func(s *Settings) *string { return &s.LogLevel }},
	{"BERTH_LOG_FORMAT", "text", "log format: text or json", func(s *Settings) *string { return &s.LogFormat }},
	{"BERTH_PROXY_SOCKET", "", "control socket of the proxy process (default: DATA_DIR/proxy.sock)", func(s *Settings) *string { return &s.ProxySocket }},
	{"BERTH_SSH_SOCKET", "", "socket of OpenSSH forced commands (default: DATA_DIR/berth-ssh.sock)", func(s *Settings) *string { return &s.SSHSocket }},
	{"BERTH_STORAGE_DIR", "", "directory of storage:create's entries (default: DATA_DIR/storage; Dokku's is /var/lib/dokku/data/storage)", func(s *Settings) *string { return &s.StorageDir }},
	{"BERTH_SSH_GROUP", "berth", "group allowed on BERTH_SSH_SOCKET (the berth and dokku users)", func(s *Settings) *string { return &s.SSHGroup }},
	{"BERTH_AUTHORIZED_KEYS", "", "authorized_keys file kept for OpenSSH mode (empty: DATA_DIR/authorized_keys while OpenSSH mode is on)", func(s *Settings) *string { return &s.AuthorizedKeys }},
	{"BERTH_OPENSSH", "auto", "OpenSSH mode (git push dokku@host:app on port 22): auto (set up the users and keys when sshd is installed) or off", func(s *Settings) *string { return &s.OpenSSH }},
	{"BERTH_OPENSSH_USERS", "berth,dokku", "system users sshd logs in as for Berth (created when missing; their group is BERTH_SSH_GROUP)", func(s *Settings) *string { return &s.OpenSSHUsers }},
	{"BERTH_OPENSSH_HOME", "/home", "where the homes of the users Berth creates go", func(s *Settings) *string { return &s.OpenSSHHome }},
	{"BERTH_ACCESS_LOG", "false", "proxy access log, one line per request: true or false", func(s *Settings) *string { return &s.AccessLog }},
	{"BERTH_ACME_CA_ROOTS", "", "PEM file of extra roots trusted for the ACME server (a private CA, Pebble in tests)", func(s *Settings) *string { return &s.ACMECARoots }},
	{"BERTH_DNS_SERVER", "", "DNS server (HOST:PORT) berth doctor asks about the apps' domains (empty: the system's resolver)", func(s *Settings) *string { return &s.DNSServer }},
	{"BERTH_NETWORK_POOL", DefaultNetworkPool, "IPv4 range (/8 to /24) the subnets of Berth's networks are taken from: a /24 per linked app, a /26 per service; must not overlap the host's other networks", func(s *Settings) *string { return &s.NetworkPool }},
	{"BERTH_CRON_TICK", "30s", "how often the scheduler of app.json cron tasks looks for due tasks (a duration, 100ms to 1m)", func(s *Settings) *string { return &s.CronTick }},
	{"BERTH_NOTIFY_RETRY_DELAY", "2s", "wait before a failed notification's second attempt, doubled after each, 5 attempts in all (a duration, 10ms to 1m)", func(s *Settings) *string { return &s.NotifyRetryDelay }},
	{"BERTH_PROXY_CONTROL_ADDR", "", "serve-proxy on a cluster node: also serve the control API over TCP with mutual TLS on HOST:PORT (port 7950 when left out); empty: the unix socket only", func(s *Settings) *string { return &s.ProxyControlAddr }},
	{"BERTH_PROXY_CONTROL_TLS_DIR", "", "directory of ca.crt, node.crt and node.key for BERTH_PROXY_CONTROL_ADDR (written by scheduler-swarm:cluster-add)", func(s *Settings) *string { return &s.ProxyControlTLSDir }},
	{"BERTH_PROXY_PEER_TIMEOUT", "2s", "bound of each call to another node's proxy (route pushes, certificates, ACME challenges; 100ms to 1m)", func(s *Settings) *string { return &s.PeerTimeout }},
	{"BERTH_PROXY_PEER_RESYNC", "3s", "how often the other nodes' proxies are compared with this one and brought in step (100ms to 1m)", func(s *Settings) *string { return &s.PeerResync }},
	{"BERTH_SWARM_HEARTBEAT", "5s", "dispatcher heartbeat of a swarm made by scheduler-swarm:cluster-init (a duration, 1s to 1m): a node is seen down after a few missed ones", func(s *Settings) *string { return &s.SwarmHeartbeat }},
	{"BERTH_METRICS_INTERVAL", "10s", "how often the daemon reads the proxy's request counters for its metrics (1s to 1m; 24 h are kept, at most 8,640 points per app)", func(s *Settings) *string { return &s.MetricsInterval }},
	{"BERTH_STATS_INTERVAL", "10s", "how often the daemon samples the CPU and memory of the apps' containers from the engine (1s to 10m, or off)", func(s *Settings) *string { return &s.StatsInterval }},
	{"BERTH_NAME_PREFIX", "", "prefix of Docker object names, for several instances on one engine", func(s *Settings) *string { return &s.NamePrefix }},
	{"POSTGRES_IMAGE", "postgres", "image of new postgres services (Dokku's name; --image overrides)", func(s *Settings) *string { return &s.PostgresImage }},
	{"POSTGRES_IMAGE_VERSION", "17", "its tag (--image-version overrides)", func(s *Settings) *string { return &s.PostgresImageVersion }},
	{"REDIS_IMAGE", "redis", "image of new redis services (Dokku's name; --image overrides)", func(s *Settings) *string { return &s.RedisImage }},
	{"REDIS_IMAGE_VERSION", "7", "its tag (--image-version overrides)", func(s *Settings) *string { return &s.RedisImageVersion }},
}

// Names lists every setting name, for help and docs.
func Names() []string {
	names := []string{"BERTH_DATA_DIR", "BERTH_CONFIG"}
	for _, f := range fields {
		names = append(names, f.name)
	}
	return names
}

// Load computes the settings from the environment (getenv) and flags, which
// map setting names (BERTH_HTTP_ADDR) to values given on the command line.
// A missing config file is not an error; an unreadable or malformed one is.
func Load(getenv func(string) string, flags map[string]string) (Settings, error) {
	pick := func(name, def string) string {
		if v, ok := flags[name]; ok && v != "" {
			return v
		}
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	s := Settings{reload: &reloader{func() (Settings, error) { return Load(getenv, flags) }}}
	// Abs also cleans an absolute path, so that DATA_DIR and the paths
	// joined to it name the same directory.
	dataDir, err := filepath.Abs(pick("BERTH_DATA_DIR", DefaultDataDir))
	if err != nil {
		return s, err
	}
	s.DataDir = dataDir
	s.ConfigFile = pick("BERTH_CONFIG", filepath.Join(s.DataDir, "berth.conf"))

	file := map[string]string{}
	b, err := os.ReadFile(s.ConfigFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return s, fmt.Errorf("read config file %s: %w", s.ConfigFile, err)
	default:
		file, err = app.ParseEnvfile(b)
		if err != nil {
			return s, fmt.Errorf("config file %s: %w", s.ConfigFile, err)
		}
	}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.name] = true
	}
	var unknown []string
	for k := range file {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return s, fmt.Errorf("config file %s: unknown setting %s (BERTH_DATA_DIR and BERTH_CONFIG come only from the environment or flags); known: %s",
			s.ConfigFile, strings.Join(unknown, ", "), strings.Join(Names()[2:], ", "))
	}
	for _, f := range fields {
		def := f.def
		if v, ok := file[f.name]; ok {
			def = v
		}
		*f.ptr(&s) = pick(f.name, def)
	}
	if s.Socket == "" {
		s.Socket = filepath.Join(s.DataDir, "berth.sock")
	}
	if s.ProxySocket == "" {
		s.ProxySocket = filepath.Join(s.DataDir, "proxy.sock")
	}
	if s.StorageDir == "" {
		s.StorageDir = filepath.Join(s.DataDir, "storage")
	} else if s.StorageDir, err = filepath.Abs(s.StorageDir); err != nil {
		return s, err
	}
	if s.SSHSocket == "" {
		s.SSHSocket = filepath.Join(s.DataDir, "berth-ssh.sock")
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return s, fmt.Errorf("BERTH_LOG_LEVEL %q is not one of debug, info, warn, error", s.LogLevel)
	}
	if s.NamePrefix != "" && !prefixRE().MatchString(s.NamePrefix) {
		return s, fmt.Errorf("BERTH_NAME_PREFIX %q must be lower-case letters, digits and '-' (it starts Docker names)", s.NamePrefix)
	}
	if s.AccessLog != "true" && s.AccessLog != "false" {
		return s, fmt.Errorf("BERTH_ACCESS_LOG %q is not one of true, false", s.AccessLog)
	}
	if s.OpenSSH != "auto" && s.OpenSSH != "off" {
		return s, fmt.Errorf("BERTH_OPENSSH %q is not one of auto, off", s.OpenSSH)
	}
	if err := checkNetworkPool(s.NetworkPool); err != nil {
		return s, err
	}
	if d, err := time.ParseDuration(s.CronTick); err != nil || d < 100*time.Millisecond || d > time.Minute {
		return s, fmt.Errorf("BERTH_CRON_TICK %q is not a duration from 100ms to 1m, such as 30s", s.CronTick)
	}
	if d, err := time.ParseDuration(s.NotifyRetryDelay); err != nil || d < 10*time.Millisecond || d > time.Minute {
		return s, fmt.Errorf("BERTH_NOTIFY_RETRY_DELAY %q is not a duration from 10ms to 1m, such as 2s", s.NotifyRetryDelay)
	}
	for _, d := range []struct{ name, v string }{{"BERTH_PROXY_PEER_TIMEOUT", s.PeerTimeout}, {"BERTH_PROXY_PEER_RESYNC", s.PeerResync}} {
		if v, err := time.ParseDuration(d.v); err != nil || v < 100*time.Millisecond || v > time.Minute {
			return s, fmt.Errorf("%s %q is not a duration from 100ms to 1m, such as 2s", d.name, d.v)
		}
	}
	if s.ProxyControlAddr != "" && s.ProxyControlTLSDir == "" {
		return s, fmt.Errorf("BERTH_PROXY_CONTROL_ADDR is set but BERTH_PROXY_CONTROL_TLS_DIR is not: give the directory of ca.crt, node.crt and node.key")
	}
	if d, err := time.ParseDuration(s.SwarmHeartbeat); err != nil || d < time.Second || d > time.Minute {
		return s, fmt.Errorf("BERTH_SWARM_HEARTBEAT %q is not a duration from 1s to 1m, such as 5s", s.SwarmHeartbeat)
	}
	if d, err := time.ParseDuration(s.MetricsInterval); err != nil || d < time.Second || d > time.Minute {
		return s, fmt.Errorf("BERTH_METRICS_INTERVAL %q is not a duration from 1s to 1m, such as 10s", s.MetricsInterval)
	}
	if d, err := time.ParseDuration(s.StatsInterval); s.StatsInterval != "off" && (err != nil || d < time.Second || d > 10*time.Minute) {
		return s, fmt.Errorf("BERTH_STATS_INTERVAL %q is not off or a duration from 1s to 10m, such as 10s", s.StatsInterval)
	}
	switch s.LogFormat {
	case "text", "json":
	default:
		return s, fmt.Errorf("BERTH_LOG_FORMAT %q is not one of text, json", s.LogFormat)
	}
	return s, nil
}

// DefaultFile returns the text of a config file listing every setting with
// its default, commented out.
func DefaultFile() string {
	var b strings.Builder
	b.WriteString("# Berth daemon settings. Each line is NAME=value; the environment and flags\n")
	b.WriteString("# of `berth serve` override this file. Uncomment to change a default.\n")
	b.WriteString("# BERTH_DATA_DIR and BERTH_CONFIG (this file) can only be set in the\n")
	b.WriteString("# environment or with flags.\n")
	for _, f := range fields {
		fmt.Fprintf(&b, "\n# %s\n#%s=%s\n", f.help, f.name, f.def)
	}
	return b.String()
}

// checkNetworkPool checks BERTH_NETWORK_POOL: an IPv4 network address
// with a prefix length from 8 (a /26 per service and a /24 per app must
// fit, and a whole class A is plenty) to 24.
func checkNetworkPool(v string) error {
	p, err := netip.ParsePrefix(v)
	switch {
	case err != nil || !p.Addr().Is4():
		return fmt.Errorf("BERTH_NETWORK_POOL %q is not an IPv4 range such as %s", v, DefaultNetworkPool)
	case p != p.Masked():
		return fmt.Errorf("BERTH_NETWORK_POOL %q has host bits set; did you mean %s?", v, p.Masked())
	case p.Bits() < 8 || p.Bits() > 24:
		return fmt.Errorf("BERTH_NETWORK_POOL %q must be a /8 to a /24 (a linked app's network takes a /24)", v)
	}
	return nil
}

// NetworkPoolPrefix is NetworkPool parsed; the zero Prefix (the engine
// chooses) for settings not checked by Load.
func (s Settings) NetworkPoolPrefix() netip.Prefix {
	p, err := netip.ParsePrefix(s.NetworkPool)
	if err != nil || checkNetworkPool(s.NetworkPool) != nil {
		return netip.Prefix{}
	}
	return p
}

// CronTickDuration is CronTick parsed (30s when it is not valid).
func (s Settings) CronTickDuration() time.Duration {
	d, err := time.ParseDuration(s.CronTick)
	if err != nil || d <= 0 {
		return 30 * time.Second
	}
	return d
}

// NotifyRetryDelayDuration is NotifyRetryDelay parsed (2s when it is not
// valid).
func (s Settings) NotifyRetryDelayDuration() time.Duration {
	d, err := time.ParseDuration(s.NotifyRetryDelay)
	if err != nil || d <= 0 {
		return 2 * time.Second
	}
	return d
}

// SwarmHeartbeatDuration is SwarmHeartbeat parsed (5s when it is not valid).
func (s Settings) SwarmHeartbeatDuration() time.Duration {
	d, err := time.ParseDuration(s.SwarmHeartbeat)
	if err != nil || d <= 0 {
		return 5 * time.Second
	}
	return d
}
