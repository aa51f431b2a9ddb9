package services

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// What differs between Postgres and Redis (the kinds table), names and
// paths, and the parsing of create's flags.

// serviceKind describes a kind of backing service: how its container is
// started (the official image's interface), how clients reach it, and the
// commands Berth runs inside it.
type serviceKind struct {
	name                       string // postgres, redis
	envVar                     string // the first link's config var
	colorPrefix                string // later links: PREFIX + COLOR + _URL
	defaultImage, defaultTag   string
	dataPath                   string // where the data dir is mounted
	configPath                 string // where the config dir is mounted ("" none)
	port, passwordBytes        int
	env                        func(svc store.Service) []string
	cmd                        func(svc store.Service) []string // nil keeps the image's CMD
	configFiles                func(svc store.Service) map[string]string
	url                        func(svc store.Service, host string) string
	ready, connect, versionCmd func(svc store.Service) []string
	// readyOut, if set, must be in ready's output: redis-cli exits 0 on
	// error replies such as LOADING and NOAUTH.
	readyOut string
	// execEnv is the environment of commands run in the container
	// (passwords go there, never on a command line other users can read).
	execEnv func(svc store.Service) []string
}

// dbName is Dokku's database name: the service name with - and . as _.
func dbName(name string) string { return strings.NewReplacer("-", "_", ".", "_").Replace(name) }

var serviceKinds = map[string]serviceKind{
	"postgres": {
		name: "postgres", envVar: "DATABASE_URL", colorPrefix: "DOKKU_POSTGRES_",
		defaultImage: "postgres", defaultTag: "17",
		dataPath: "/var/lib/postgresql/data", port: 5432, passwordBytes: 16,
		env: func(s store.Service) []string {
			// PGDATA is explicit: newer official images moved the default.
			return []string{"POSTGRES_PASSWORD=" + s.Password, "POSTGRES_DB=" + dbName(s.Name), "PGDATA=/var/lib/postgresql/data"}
		},
		url: func(s store.Service, host string) string {
			return fmt.Sprintf("postgres://postgres:%s@%s:5432/%s", s.Password, host, dbName(s.Name))
		},
		// TCP, not the socket: the image's init-time server listens on the
		// socket only, so this answers once the real server is up.
		ready:      func(store.Service) []string { return []string{"pg_isready", "-h", "127.0.0.1", "-U", "postgres"} },
		connect:    func(s store.Service) []string { return []string{"psql", "-U", "postgres", dbName(s.Name)} },
		versionCmd: func(store.Service) []string { return []string{"postgres", "--version"} },
		execEnv:    func(store.Service) []string { return nil },
	},
	"redis": {
		name: "redis", envVar: "REDIS_URL", colorPrefix: "DOKKU_REDIS_",
		defaultImage: "redis", defaultTag: "7",
		dataPath: "/data", configPath: "/usr/local/etc/redis", port: 6379, passwordBytes: 32,
		env: func(store.Service) []string { return nil },
		// The official image takes a config file as its first argument.
		cmd: func(store.Service) []string { return []string{"redis-server", "/usr/local/etc/redis/redis.conf"} },
		configFiles: func(s store.Service) map[string]string {
			return map[string]string{"redis.conf": "# Written by Berth; edits are replaced when the service is recreated.\n" +
				"bind 0.0.0.0 -::*\nprotected-mode no\nport 6379\ndir /data\n" +
				"appendonly yes\nappendfsync everysec\nsave 3600 1 300 100 60 10000\n" +
				"requirepass " + s.Password + "\n"}
		},
		url: func(s store.Service, host string) string {
			return fmt.Sprintf("redis://:%s@%s:6379", s.Password, host)
		},
		ready:      func(store.Service) []string { return []string{"redis-cli", "ping"} },
		readyOut:   "PONG",
		connect:    func(store.Service) []string { return []string{"redis-cli"} },
		versionCmd: func(store.Service) []string { return []string{"redis-server", "--version"} },
		execEnv:    func(s store.Service) []string { return []string{"REDISCLI_AUTH=" + s.Password} },
	},
}

// colors are the alias colors of Dokku's service plugins, in order.
var colors = []string{"AQUA", "BLACK", "BLUE", "FUCHSIA", "GRAY", "GREEN", "LIME", "MAROON", "NAVY", "OLIVE", "PURPLE", "RED", "SILVER", "TEAL", "WHITE", "YELLOW"}

// serviceNameRE is Dokku's service name rule; the length bound keeps the
// service's host name (dokku-KIND-NAME) within DNS's 63 characters.
var serviceNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{1,48}$`) })

func kindOf(k string) (serviceKind, error) {
	sk, ok := serviceKinds[k]
	if !ok {
		return sk, api.Errorf(api.CodeInvalid, "Unknown service kind %q", k)
	}
	return sk, nil
}

func checkServiceName(kind, name string) error {
	if !serviceNameRE().MatchString(name) {
		return api.Errorf(api.CodeInvalid, "Invalid %s service name %q: use letters, digits, - and _ (at most 48)", kind, name)
	}
	return nil
}

// nameTaken refuses a name that is one of the services of its kind, or
// differs from one only in case: the engine's network aliases (the
// service's DNS name) ignore case, so UP and up would answer at one name
// and apps would reach either database.
func nameTaken(kind, name string, existing []store.Service) error {
	for _, svc := range existing {
		switch {
		case svc.Name == name:
			return api.Errorf(api.CodeConflict, "%s service %s already exists", titleKind(kind), name)
		case strings.EqualFold(svc.Name, name):
			return api.Errorf(api.CodeConflict, "%s service %s already exists and differs from %s only in case (they would share one DNS name); choose another name", titleKind(kind), svc.Name, name)
		}
	}
	return nil
}

// serviceHost is the name app containers reach a service at (Dokku's).
// serviceHost is the DNS name of a service on its linked apps' networks:
// Dokku's `dokku-KIND-NAME`, with the name's underscores as dashes (a host
// name has none; the database keeps the name as it is).
func serviceHost(kind, name string) string {
	return "dokku-" + kind + "-" + strings.ReplaceAll(name, "_", "-")
}

// serviceAliases are the names a service answers to on a network: its host,
// and for a name with underscores also the name as Berth before 0.13 gave
// it, so links made then keep resolving.
func serviceAliases(kind, name string) []string {
	host := serviceHost(kind, name)
	if old := "dokku-" + kind + "-" + name; old != host {
		return []string{host, old}
	}
	return []string{host}
}

func (m *Manager) serviceRoot(kind, name string) string {
	return filepath.Join(m.dataDir, "services", kind, name)
}

func (m *Manager) serviceDataDir(svc store.Service) string {
	return filepath.Join(m.serviceRoot(svc.Kind, svc.Name), "data")
}

func (m *Manager) serviceConfigDir(svc store.Service) string {
	return filepath.Join(m.serviceRoot(svc.Kind, svc.Name), "config")
}

func (m *Manager) serviceContainer(svc store.Service) string {
	return m.names.Service(svc.Kind, svc.Name)
}

func titleKind(k string) string {
	switch k {
	case "postgres":
		return "Postgres"
	case "redis":
		return "Redis"
	}
	return k
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// serviceImage resolves the image of a new service: the flags, then the
// daemon's settings (Dokku's POSTGRES_IMAGE, POSTGRES_IMAGE_VERSION, ...,
// from the environment or the config file), then the official image.
func (m *Manager) serviceImage(sk serviceKind, image, version string) string {
	def := m.images[sk.name]
	if image == "" {
		image = def.Repo
	}
	if image == "" {
		image = sk.defaultImage
	}
	if version == "" {
		version = def.Tag
	}
	if version == "" {
		version = sk.defaultTag
	}
	return image + ":" + version
}

// parseServiceSize reads "512", "512m", "1g", "64k" or "100b"; a bare number is in
// units of bare.
func parseServiceSize(s string, bare int64) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := bare
	num := strings.ToLower(s)
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'b':
			mult, num = 1, num[:n-1]
		case 'k':
			mult, num = 1<<10, num[:n-1]
		case 'm':
			mult, num = 1<<20, num[:n-1]
		case 'g':
			mult, num = 1<<30, num[:n-1]
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return v * mult, nil
}

// parseCustomEnv checks Dokku's --custom-env form, "A=b;C=d"; a bad entry
// is the API's invalid error.
func parseCustomEnv(s string) ([]string, error) {
	var out []string
	for _, kv := range strings.Split(s, ";") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || app.ValidateKey(k) != nil || app.ValidateValue(k, v) != nil {
			return nil, api.Errorf(api.CodeInvalid, "Invalid --custom-env entry %q: want KEY=value pairs separated by ;", kv)
		}
		out = append(out, kv)
	}
	return out, nil
}

// dumpExt is the file extension of a kind's dumps.
func dumpExt(kind string) string {
	if kind == "redis" {
		return "rdb"
	}
	return "dump"
}

// splitImage splits "repo:tag" (a registry's host:port stays in repo).
func splitImage(ref string) (string, string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}
