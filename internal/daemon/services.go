package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

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
var serviceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,48}$`)

func kindOf(k string) (serviceKind, error) {
	sk, ok := serviceKinds[k]
	if !ok {
		return sk, api.Errorf(api.CodeInvalid, "Unknown service kind %q", k)
	}
	return sk, nil
}

func checkServiceName(kind, name string) error {
	if !serviceNameRE.MatchString(name) {
		return api.Errorf(api.CodeInvalid, "Invalid %s service name %q: use letters, digits, - and _ (at most 48)", kind, name)
	}
	return nil
}

// serviceHost is the name app containers reach a service at (Dokku's).
func serviceHost(kind, name string) string { return "dokku-" + kind + "-" + name }

func (s *Service) serviceRoot(kind, name string) string {
	return filepath.Join(s.dataDir, "services", kind, name)
}

func (s *Service) serviceDataDir(svc store.Service) string {
	return filepath.Join(s.serviceRoot(svc.Kind, svc.Name), "data")
}

func (s *Service) serviceConfigDir(svc store.Service) string {
	return filepath.Join(s.serviceRoot(svc.Kind, svc.Name), "config")
}

func (s *Service) serviceContainer(svc store.Service) string {
	return s.deployer.Names().Service(svc.Kind, svc.Name)
}

func (s *Service) getService(tx *store.Tx, ref api.ServiceRef) (store.Service, error) {
	svc, err := tx.Service(ref.Kind, ref.Name)
	if errors.Is(err, store.ErrServiceNotFound) {
		return svc, api.Errorf(api.CodeNotFound, "%s service %s does not exist", titleKind(ref.Kind), ref.Name)
	}
	return svc, err
}

// loadService reads a service by reference.
func (s *Service) loadService(ctx context.Context, ref api.ServiceRef) (serviceKind, store.Service, error) {
	sk, err := kindOf(ref.Kind)
	if err != nil {
		return sk, store.Service{}, err
	}
	var svc store.Service
	err = s.store.Tx(ctx, func(tx *store.Tx) (err error) { svc, err = s.getService(tx, ref); return err })
	return sk, svc, err
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

// serviceEngine is what the service commands need of the container engine.
type serviceEngine interface {
	deploy.Engine
	PullImage(ctx context.Context, ref string, out io.Writer) error
	PauseContainer(ctx context.Context, id string) error
	UnpauseContainer(ctx context.Context, id string) error
}

func (s *Service) svcEngine(ctx context.Context) (serviceEngine, error) {
	eng, err := s.engine(ctx)
	if err != nil {
		return nil, deployError(err)
	}
	se, ok := eng.(serviceEngine)
	if !ok {
		return nil, api.Errorf(api.CodeUnavailable, "the container engine cannot run services")
	}
	return se, nil
}

// serviceLocks serialises the commands that change one service.
var serviceLocks sync.Map // "kind/name" -> *sync.Mutex

func lockService(kind, name string) func() {
	m, _ := serviceLocks.LoadOrStore(kind+"/"+name, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// NetworkFor is the network an app's containers join: the services
// network when the app has links.
func (s *Service) NetworkFor(ctx context.Context, appName string) string {
	var links []store.Link
	s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		links, err = tx.AppLinks(a)
		return err
	})
	if len(links) == 0 {
		return ""
	}
	return s.deployer.Names().Network()
}

func (s *Service) registerServices(m *api.Mux) {
	api.Handle(m, api.ServicesCreate, s.serviceCreate)
	api.Handle(m, api.ServicesDestroy, s.serviceDestroy)
	api.Handle(m, api.ServicesList, s.serviceList)
	api.Handle(m, api.ServicesInfo, s.serviceInfo)
	api.Handle(m, api.ServicesLink, s.serviceLink)
	api.Handle(m, api.ServicesUnlink, s.serviceUnlink)
	api.Handle(m, api.ServicesPromote, s.servicePromote)
	api.Handle(m, api.ServicesAppLinks, s.serviceAppLinks)
	api.Handle(m, api.ServicesStart, s.serviceStart)
	api.Handle(m, api.ServicesStop, s.serviceStop)
	api.Handle(m, api.ServicesRestart, s.serviceRestart)
	api.Handle(m, api.ServicesPause, s.servicePause)
	api.Handle(m, api.ServicesLogs, s.serviceLogs)
	api.Handle(m, api.ServicesExpose, s.serviceExpose)
	api.Handle(m, api.ServicesUnexpose, s.serviceUnexpose)
	api.Handle(m, api.ServicesUpgrade, s.serviceUpgrade)
	api.HandleSession(m, api.ServicesConnect, func(ctx context.Context, req api.ServiceConnect, sess *api.Session) (api.RunResult, error) {
		return s.serviceExec(ctx, req, sess, true)
	})
	api.HandleSession(m, api.ServicesEnter, func(ctx context.Context, req api.ServiceConnect, sess *api.Session) (api.RunResult, error) {
		return s.serviceExec(ctx, req, sess, false)
	})
	s.registerServiceData(m)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// serviceImage resolves the image of a new service: the flags, then the
// daemon's settings (Dokku's POSTGRES_IMAGE, POSTGRES_IMAGE_VERSION, ...,
// from the environment or the config file), then the official image.
func (s *Service) serviceImage(sk serviceKind, image, version string) string {
	def := s.serviceImages[sk.name]
	if image == "" {
		image = def[0]
	}
	if image == "" {
		image = sk.defaultImage
	}
	if version == "" {
		version = def[1]
	}
	if version == "" {
		version = sk.defaultTag
	}
	return image + ":" + version
}

// ensureImage makes sure image is on the engine, pulling it when it is not.
func ensureImage(ctx context.Context, eng serviceEngine, image string, out api.Output) error {
	if _, err := eng.InspectImage(ctx, image); err == nil {
		return nil
	} else if !errors.Is(err, docker.ErrNotFound) {
		return err
	}
	fmt.Fprintf(out.Stdout, "       Pulling image %s\n", image)
	if err := eng.PullImage(ctx, image, nil); err != nil {
		return api.Errorf(api.CodeInvalid, "Image %s is not on this engine and could not be pulled (%v); build or load it, or choose another with --image/--image-version", image, err)
	}
	return nil
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

// parseCustomEnv checks Dokku's --custom-env form, "A=b;C=d".
func parseCustomEnv(s string) ([]string, error) {
	var out []string
	for _, kv := range strings.Split(s, ";") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || app.ValidateKey(k) != nil || app.ValidateValue(k, v) != nil {
			return nil, fmt.Errorf("Invalid --custom-env entry %q: want KEY=value pairs separated by ;", kv)
		}
		out = append(out, kv)
	}
	return out, nil
}

func (s *Service) serviceCreate(ctx context.Context, req api.ServiceCreate, out api.Output) (api.ServiceInfo, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	if err := checkServiceName(req.Kind, req.Name); err != nil {
		return api.ServiceInfo{}, err
	}
	svc := store.Service{Kind: req.Kind, Name: req.Name, Image: s.serviceImage(sk, req.Image, req.ImageVersion), Password: req.Password, CustomEnv: req.CustomEnv, CreatedAt: s.now()}
	if _, err := parseCustomEnv(req.CustomEnv); err != nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	if svc.Memory, err = parseServiceSize(req.Memory, 1<<20); err != nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "--memory: %v (megabytes, or a number with k, m or g)", err)
	}
	if svc.ShmSize, err = parseServiceSize(req.ShmSize, 1); err != nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "--shm-size: %v (bytes, or a number with k, m or g)", err)
	}
	if svc.Password == "" {
		svc.Password = randomHex(sk.passwordBytes)
	} else if strings.ContainsAny(svc.Password, "\n\r @:/?#") {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "--password must not contain spaces, newlines or any of @:/?#")
	}
	defer lockService(req.Kind, req.Name)()
	var exists bool
	if err := s.store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Service(req.Kind, req.Name)
		exists = err == nil
		return nil
	}); err != nil {
		return api.ServiceInfo{}, err
	}
	if exists {
		return api.ServiceInfo{}, api.Errorf(api.CodeConflict, "%s service %s already exists", titleKind(req.Kind), req.Name)
	}
	if _, err := os.Stat(s.serviceRoot(req.Kind, req.Name)); err == nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeConflict, "%s exists but no %s service %s is recorded; move it away first", s.serviceRoot(req.Kind, req.Name), req.Kind, req.Name)
	}
	eng, err := s.svcEngine(ctx)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	if err := ensureImage(ctx, eng, svc.Image, out); err != nil {
		return api.ServiceInfo{}, err
	}
	// Nothing half-created: any failure below removes what was made.
	undo := func() {
		c := context.WithoutCancel(ctx)
		eng.RemoveContainer(c, s.serviceContainer(svc), true)
		os.RemoveAll(s.serviceRoot(svc.Kind, svc.Name))
	}
	fmt.Fprintf(out.Stdout, "       Waiting for container to be ready\n")
	if err := s.runService(ctx, eng, sk, svc, out); err != nil {
		undo()
		return api.ServiceInfo{}, err
	}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		svc, err = tx.CreateService(svc)
		if errors.Is(err, store.ErrServiceExists) {
			return api.Errorf(api.CodeConflict, "%s service %s already exists", titleKind(req.Kind), req.Name)
		}
		return err
	})
	if err != nil {
		undo()
		return api.ServiceInfo{}, err
	}
	s.log.Info("service created", "kind", req.Kind, "name", req.Name, "image", svc.Image)
	return s.serviceInfo(ctx, req.ServiceRef, api.Output{})
}

// serviceSpec is the container of a service.
func (s *Service) serviceSpec(sk serviceKind, svc store.Service) docker.ContainerSpec {
	names := s.deployer.Names()
	host := serviceHost(svc.Kind, svc.Name)
	env := sk.env(svc)
	custom, _ := parseCustomEnv(svc.CustomEnv)
	env = append(env, custom...)
	spec := docker.ContainerSpec{
		Name: s.serviceContainer(svc), Image: svc.Image, Env: env, Hostname: host,
		Labels:         map[string]string{"berth.instance": names.Instance(), "berth.kind": "service", "berth.service.kind": svc.Kind, "berth.service.name": svc.Name},
		Binds:          []string{s.serviceDataDir(svc) + ":" + sk.dataPath},
		Network:        names.Network(),
		NetworkAliases: []string{host},
		RestartPolicy:  "unless-stopped",
		StopTimeout:    30,
		Memory:         svc.Memory,
		ShmSize:        svc.ShmSize,
	}
	if sk.cmd != nil {
		spec.Cmd = sk.cmd(svc)
	}
	if sk.configPath != "" {
		spec.Binds = append(spec.Binds, s.serviceConfigDir(svc)+":"+sk.configPath)
	}
	if svc.Expose != "" {
		host, port, _ := net.SplitHostPort(svc.Expose)
		p, _ := strconv.Atoi(port)
		spec.Ports = []docker.PortBinding{{HostIP: host, HostPort: p, ContainerPort: sk.port}}
	}
	return spec
}

// writeServiceFiles creates the service's directories and config files.
// The service root is 0700, so host users cannot reach the password in the
// config files; the data and config dirs themselves are opened to the
// container's own user (the image decides which uid that is).
func (s *Service) writeServiceFiles(sk serviceKind, svc store.Service) error {
	root := s.serviceRoot(svc.Kind, svc.Name)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return err
	}
	// Explicit modes: the daemon runs with umask 077.
	if err := mkdirMode(s.serviceDataDir(svc), 0o755); err != nil {
		return err
	}
	if sk.configFiles == nil {
		return nil
	}
	dir := s.serviceConfigDir(svc)
	if err := mkdirMode(dir, 0o755); err != nil {
		return err
	}
	for name, content := range sk.configFiles(svc) {
		if err := writeFileAtomic(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// mkdirMode creates dir if needed and gives it mode whatever the umask.
// An existing data dir keeps the owner the image gave it.
func mkdirMode(dir string, mode os.FileMode) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.Mkdir(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// runService (re)creates a service's container from its record, starts it
// and waits until it answers. An existing container of that name is
// replaced.
func (s *Service) runService(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, out api.Output) error {
	names := s.deployer.Names()
	if err := s.writeServiceFiles(sk, svc); err != nil {
		return err
	}
	if err := eng.EnsureNetwork(ctx, names.Network(), map[string]string{"berth.instance": names.Instance()}); err != nil {
		return err
	}
	if err := eng.RemoveContainer(ctx, s.serviceContainer(svc), true); err != nil && !errors.Is(err, docker.ErrNotFound) {
		return err
	}
	id, err := eng.CreateContainer(ctx, s.serviceSpec(sk, svc))
	if err != nil {
		return err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		return s.startFailed(ctx, eng, svc, id, err)
	}
	if err := s.waitService(ctx, eng, sk, svc, id); err != nil {
		return s.startFailed(ctx, eng, svc, id, err)
	}
	return nil
}

// startFailed adds the container's last log lines to a start error.
func (s *Service) startFailed(ctx context.Context, eng serviceEngine, svc store.Service, id string, err error) error {
	var buf strings.Builder
	eng.Logs(context.WithoutCancel(ctx), id, docker.LogsOptions{Tail: "15"}, &buf, &buf)
	if tail := strings.TrimSpace(buf.String()); tail != "" {
		return api.Errorf(api.CodeUnavailable, "%v\nlast lines of the %s container's log:\n%s", err, svc.Kind, tail)
	}
	return err
}

// serviceReadyTimeout bounds how long a service may take to answer.
var serviceReadyTimeout = 90 * time.Second

// waitService waits until the service answers its readiness command, or
// its container stops.
func (s *Service) waitService(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, id string) error {
	deadline := time.Now().Add(serviceReadyTimeout)
	for {
		var stdout bytes.Buffer
		code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: sk.ready(svc), Env: sk.execEnv(svc), Stdout: &stdout})
		if err == nil && code == 0 && strings.Contains(stdout.String(), sk.readyOut) {
			return nil
		}
		if det, ierr := eng.InspectContainer(ctx, id); ierr == nil && !det.Running && det.State != "created" && det.State != "restarting" {
			return api.Errorf(api.CodeUnavailable, "%s service %s stopped while starting (%s)", titleKind(svc.Kind), svc.Name, det.Status)
		}
		if time.Now().After(deadline) {
			return api.Errorf(api.CodeUnavailable, "%s service %s did not become ready within %s", titleKind(svc.Kind), svc.Name, serviceReadyTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// restoreServices recreates, at daemon start, the container of any service
// whose container is gone (removed by hand, or an engine that lost its
// state); its data is on the host. Stopped containers stay stopped: that is
// what the operator asked for (KIND:stop), and the restart policy already
// brings back crashed ones.
func (s *Service) restoreServices(ctx context.Context) {
	var svcs []store.Service
	if err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { svcs, err = tx.Services(""); return err }); err != nil || len(svcs) == 0 {
		return
	}
	eng, err := s.svcEngine(ctx)
	if err != nil {
		s.log.Warn("services not checked: no engine", "err", err)
		return
	}
	for _, svc := range svcs {
		if _, err := eng.InspectContainer(ctx, s.serviceContainer(svc)); !errors.Is(err, docker.ErrNotFound) {
			continue
		}
		unlock := lockService(svc.Kind, svc.Name)
		err := s.runService(ctx, eng, serviceKinds[svc.Kind], svc, quiet)
		unlock()
		if err != nil {
			s.log.Error("service container not recreated", "kind", svc.Kind, "name", svc.Name, "err", err)
		} else {
			s.log.Info("service container recreated", "kind", svc.Kind, "name", svc.Name)
		}
	}
}

func (s *Service) serviceList(ctx context.Context, req api.ServiceRef, _ api.Output) (api.ServiceList, error) {
	res := api.ServiceList{Services: []api.ServiceInfo{}}
	if _, err := kindOf(req.Kind); err != nil {
		return res, err
	}
	var svcs []store.Service
	if err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { svcs, err = tx.Services(req.Kind); return err }); err != nil {
		return res, err
	}
	for _, svc := range svcs {
		info, err := s.serviceInfo(ctx, api.ServiceRef{Kind: req.Kind, Name: svc.Name}, api.Output{})
		if err != nil {
			return res, err
		}
		res.Services = append(res.Services, info)
	}
	return res, nil
}

func (s *Service) serviceInfo(ctx context.Context, req api.ServiceRef, _ api.Output) (api.ServiceInfo, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	var svc store.Service
	var links []store.Link
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if svc, err = s.getService(tx, req); err != nil {
			return err
		}
		links, err = tx.ServiceLinks(svc)
		return err
	})
	if err != nil {
		return api.ServiceInfo{}, err
	}
	info := api.ServiceInfo{Kind: svc.Kind, Name: svc.Name, Image: svc.Image, Version: svc.Image,
		DSN: sk.url(svc, serviceHost(svc.Kind, svc.Name)), ServiceRoot: s.serviceRoot(svc.Kind, svc.Name),
		DataDir: s.serviceDataDir(svc), CustomEnv: svc.CustomEnv, Links: []string{}, CreatedAt: svc.CreatedAt, Status: "missing", ExposedPorts: "-"}
	if sk.configPath != "" {
		info.ConfigDir = s.serviceConfigDir(svc)
	}
	if svc.Expose != "" {
		info.ExposedPorts = fmt.Sprintf("%d->%s", sk.port, svc.Expose)
	}
	for _, l := range links {
		info.Links = append(info.Links, l.App)
	}
	info.Backup = s.backupSummary(ctx, svc)
	if eng, err := s.engine(ctx); err == nil {
		if det, err := eng.InspectContainer(ctx, s.serviceContainer(svc)); err == nil {
			info.Status, info.ID = det.State, det.ID
			info.InternalIP = det.IPAddress(s.deployer.Names().Network())
		}
	}
	return info, nil
}

func (s *Service) serviceDestroy(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	_, svc, err := s.loadService(ctx, req)
	if err != nil {
		return api.Empty{}, err
	}
	defer lockService(req.Kind, req.Name)()
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		links, err := tx.ServiceLinks(svc)
		if err != nil {
			return err
		}
		if len(links) > 0 {
			var apps []string
			for _, l := range links {
				apps = append(apps, l.App)
			}
			return api.Errorf(api.CodeConflict, "Cannot delete linked service: %s is linked to %s; unlink it first", req.Name, strings.Join(apps, ", "))
		}
		return nil
	})
	if err != nil {
		return api.Empty{}, err
	}
	eng, err := s.svcEngine(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	fmt.Fprintf(out.Stdout, "       Deleting container\n")
	if err := eng.RemoveContainer(ctx, s.serviceContainer(svc), true); err != nil && !errors.Is(err, docker.ErrNotFound) {
		return api.Empty{}, err
	}
	s.unscheduleBackups(svc)
	if err := s.store.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteService(svc) }); err != nil {
		return api.Empty{}, err
	}
	fmt.Fprintf(out.Stdout, "       Deleting service data\n")
	if err := os.RemoveAll(s.serviceRoot(req.Kind, req.Name)); err != nil {
		s.log.Error("service data not removed", "kind", req.Kind, "name", req.Name, "err", err)
	}
	s.log.Info("service destroyed", "kind", req.Kind, "name", req.Name)
	return api.Empty{}, nil
}

// linkURL is the URL a link sets: the service's, plus the link's query.
func linkURL(sk serviceKind, l store.Link) string {
	u := sk.url(l.Service, serviceHost(l.Service.Kind, l.Service.Name))
	if l.Query != "" {
		u += "?" + l.Query
	}
	return u
}

// freeColorVar is the first of the kind's color variables the app has not set.
func freeColorVar(sk serviceKind, vars map[string]string) string {
	for _, c := range colors {
		if v := sk.colorPrefix + c + "_URL"; vars[v] == "" {
			return v
		}
	}
	return ""
}

func (s *Service) serviceLink(ctx context.Context, req api.ServiceLink, out api.Output) (api.ServiceLinkResult, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceLinkResult{}, err
	}
	if strings.ContainsAny(req.QueryString, " \n#") {
		return api.ServiceLinkResult{}, api.Errorf(api.CodeInvalid, "Invalid --querystring %q", req.QueryString)
	}
	var res api.ServiceLinkResult
	var url string
	err = s.inLinkTx(ctx, req, func(tx *store.Tx, st linkState) error {
		if st.link != nil {
			return api.Errorf(api.CodeConflict, "Already linked as %s", st.link.Var)
		}
		vars, err := tx.Config(st.app.Scope())
		if err != nil {
			return err
		}
		switch {
		case req.Alias != "":
			res.Var = strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(req.Alias))
			res.Var = strings.TrimSuffix(res.Var, "_URL") + "_URL"
			if app.ValidateKey(res.Var) != nil {
				return api.Errorf(api.CodeInvalid, "Invalid alias %q: use letters, digits and _", req.Alias)
			}
		case vars[sk.envVar] == "":
			res.Var = sk.envVar
		default:
			if res.Var = freeColorVar(sk, vars); res.Var == "" {
				return api.Errorf(api.CodeConflict, "No free %s*_URL variable left on %s; use --alias", sk.colorPrefix, req.App)
			}
		}
		for _, l := range st.links {
			if l.Var == res.Var {
				return api.Errorf(api.CodeConflict, "%s on %s already points to %s service %s; use --alias", res.Var, req.App, l.Service.Kind, l.Service.Name)
			}
		}
		l := store.Link{Service: st.svc, App: st.app.Name, Var: res.Var, Query: strings.TrimPrefix(req.QueryString, "?")}
		if err := tx.AddLink(l, st.app); err != nil {
			return err
		}
		url = linkURL(sk, l)
		return tx.SetConfig(st.app.Scope(), map[string]string{res.Var: url})
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out.Stdout, "-----> Setting config vars\n       %s:  %s\n", res.Var, url)
	s.log.Info("service linked", "kind", req.Kind, "name", req.Name, "app", req.App, "var", res.Var)
	return res, s.restartLinked(ctx, req.App, req.NoRestart, out)
}

func (s *Service) restartLinked(ctx context.Context, app string, noRestart bool, out api.Output) error {
	if noRestart || s.redeploy == nil {
		return nil
	}
	fmt.Fprintf(out.Stdout, "-----> Restarting app %s\n", app)
	deployed, err := s.redeploy.Redeploy(ctx, app, out)
	if err == nil && !deployed {
		fmt.Fprintf(out.Stdout, "       App %s has not been deployed yet; it gets the variable on its first deploy\n", app)
	}
	return err
}

func (s *Service) serviceUnlink(ctx context.Context, req api.ServiceLink, out api.Output) (api.ServiceLinkResult, error) {
	var res api.ServiceLinkResult
	err := s.inLinkTx(ctx, req, func(tx *store.Tx, st linkState) error {
		if st.link == nil {
			return notLinked(st.app)
		}
		res.Var = st.link.Var
		if err := tx.RemoveLink(st.svc, st.app); err != nil {
			return err
		}
		_, err := tx.UnsetConfig(st.app.Scope(), []string{res.Var})
		return err
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out.Stdout, "-----> Unsetting %s\n", res.Var)
	s.log.Info("service unlinked", "kind", req.Kind, "name", req.Name, "app", req.App, "var", res.Var)
	return res, s.restartLinked(ctx, req.App, req.NoRestart, out)
}

// linkState is what a link command reads in its transaction.
type linkState struct {
	svc   store.Service
	app   store.App
	links []store.Link // all of the app's links
	link  *store.Link  // this service's among them; nil when not linked
}

// inLinkTx runs fn in a transaction with the service, the app and their
// links of a link, unlink or promote request.
func (s *Service) inLinkTx(ctx context.Context, req api.ServiceLink, fn func(tx *store.Tx, st linkState) error) error {
	return s.store.Tx(ctx, func(tx *store.Tx) error {
		var st linkState
		var err error
		if st.svc, err = s.getService(tx, req.ServiceRef); err != nil {
			return err
		}
		if st.app, err = getApp(tx, req.App); err != nil {
			return err
		}
		if st.links, err = tx.AppLinks(st.app); err != nil {
			return err
		}
		for i := range st.links {
			if st.links[i].Service.ID == st.svc.ID {
				st.link = &st.links[i]
			}
		}
		return fn(tx, st)
	})
}

func notLinked(a store.App) error {
	return api.Errorf(api.CodeInvalid, "Not linked to app %s", a.Name)
}

// servicePromote makes a linked service the app's primary one (DATABASE_URL
// or REDIS_URL); the service that held it moves to a color variable.
func (s *Service) servicePromote(ctx context.Context, req api.ServiceLink, out api.Output) (api.ServiceLinkResult, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceLinkResult{}, err
	}
	res := api.ServiceLinkResult{Var: sk.envVar}
	err = s.inLinkTx(ctx, req, func(tx *store.Tx, st linkState) error {
		if st.link == nil {
			return notLinked(st.app)
		}
		l, a := *st.link, st.app
		if l.Var == sk.envVar {
			return api.Errorf(api.CodeInvalid, "%s is already promoted as %s", req.Name, sk.envVar)
		}
		set := map[string]string{sk.envVar: linkURL(sk, l)}
		for _, other := range st.links {
			if other.Var == sk.envVar {
				// The old primary takes the promoted one's color variable.
				if err := tx.SetLinkVar(other.Service, a, l.Var); err != nil {
					return err
				}
				set[l.Var] = linkURL(sk, other)
			}
		}
		if _, moved := set[l.Var]; !moved {
			if _, err := tx.UnsetConfig(a.Scope(), []string{l.Var}); err != nil {
				return err
			}
		}
		fmt.Fprintf(out.Stdout, "-----> Promoting %s to %s on %s\n", req.Name, sk.envVar, req.App)
		if err := tx.SetLinkVar(st.svc, a, sk.envVar); err != nil {
			return err
		}
		return tx.SetConfig(a.Scope(), set)
	})
	if err != nil {
		return res, err
	}
	return res, s.restartLinked(ctx, req.App, req.NoRestart, out)
}

func (s *Service) serviceAppLinks(ctx context.Context, req api.AppServiceRef, _ api.Output) (api.AppServiceLinks, error) {
	res := api.AppServiceLinks{Links: []api.AppServiceLink{}}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, req.App)
		if err != nil {
			return err
		}
		links, err := tx.AppLinks(a)
		for _, l := range links {
			if req.Kind == "" || l.Service.Kind == req.Kind {
				res.Links = append(res.Links, api.AppServiceLink{Kind: l.Service.Kind, Name: l.Service.Name, Var: l.Var})
			}
		}
		return err
	})
	return res, err
}

// onService loads a service, takes its lock and the engine, and runs fn:
// the start of every command that changes a service.
func (s *Service) onService(ctx context.Context, ref api.ServiceRef, fn func(eng serviceEngine, sk serviceKind, svc store.Service) error) error {
	sk, svc, err := s.loadService(ctx, ref)
	if err != nil {
		return err
	}
	defer lockService(ref.Kind, ref.Name)()
	eng, err := s.svcEngine(ctx)
	if err != nil {
		return err
	}
	return fn(eng, sk, svc)
}

func (s *Service) serviceStart(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	return api.Empty{}, s.onService(ctx, req, func(eng serviceEngine, sk serviceKind, svc store.Service) error {
		return s.startExisting(ctx, eng, sk, svc, out)
	})
}

// startExisting starts (or unpauses) a service's container, recreating it
// when it is gone or runs another image than the record says.
func (s *Service) startExisting(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, out api.Output) error {
	det, err := eng.InspectContainer(ctx, s.serviceContainer(svc))
	switch {
	case errors.Is(err, docker.ErrNotFound) || (err == nil && det.Image != svc.Image):
		fmt.Fprintf(out.Stdout, "=====> Starting container\n")
		return s.runService(ctx, eng, sk, svc, out)
	case err != nil:
		return err
	case det.State == "paused":
		fmt.Fprintf(out.Stdout, "=====> Unpausing container\n")
		if err := eng.UnpauseContainer(ctx, det.ID); err != nil {
			return err
		}
	case det.Running:
		fmt.Fprintf(out.Stdout, "       Container already running\n")
		return nil
	default:
		fmt.Fprintf(out.Stdout, "=====> Starting container\n")
		if err := s.writeServiceFiles(sk, svc); err != nil {
			return err
		}
		if err := eng.StartContainer(ctx, det.ID); err != nil {
			return err
		}
	}
	if err := s.waitService(ctx, eng, sk, svc, det.ID); err != nil {
		return s.startFailed(ctx, eng, svc, det.ID, err)
	}
	fmt.Fprintf(out.Stdout, "       Container started\n")
	return nil
}

func (s *Service) serviceStop(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	return api.Empty{}, s.onService(ctx, req, func(eng serviceEngine, _ serviceKind, svc store.Service) error {
		return s.stopService(ctx, eng, svc, out)
	})
}

func (s *Service) stopService(ctx context.Context, eng serviceEngine, svc store.Service, out api.Output) error {
	fmt.Fprintf(out.Stdout, "=====> Stopping container\n")
	det, err := eng.InspectContainer(ctx, s.serviceContainer(svc))
	if errors.Is(err, docker.ErrNotFound) {
		fmt.Fprintf(out.Stdout, "       No container exists\n")
		return nil
	}
	if err != nil {
		return err
	}
	if det.State == "paused" {
		if err := eng.UnpauseContainer(ctx, det.ID); err != nil {
			return err
		}
	}
	if err := eng.StopContainer(ctx, det.ID, 30*time.Second); err != nil {
		return err
	}
	fmt.Fprintf(out.Stdout, "       Container stopped\n")
	return nil
}

func (s *Service) serviceRestart(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	return api.Empty{}, s.onService(ctx, req, func(eng serviceEngine, sk serviceKind, svc store.Service) error {
		if err := s.stopService(ctx, eng, svc, out); err != nil {
			return err
		}
		return s.startExisting(ctx, eng, sk, svc, out)
	})
}

func (s *Service) servicePause(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	return api.Empty{}, s.onService(ctx, req, func(eng serviceEngine, _ serviceKind, svc store.Service) error {
		det, err := eng.InspectContainer(ctx, s.serviceContainer(svc))
		if err != nil {
			return err
		}
		if !det.Running || det.State == "paused" {
			fmt.Fprintf(out.Stdout, "       Container is not running\n")
			return nil
		}
		fmt.Fprintf(out.Stdout, "=====> Pausing container\n")
		if err := eng.PauseContainer(ctx, det.ID); err != nil {
			return err
		}
		fmt.Fprintf(out.Stdout, "       Container paused\n")
		return nil
	})
}

func (s *Service) serviceLogs(ctx context.Context, req api.ServiceLogs, out api.Output) (api.Empty, error) {
	_, svc, err := s.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.Empty{}, err
	}
	eng, err := s.svcEngine(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	opts := docker.LogsOptions{Follow: req.Tail}
	if req.Num > 0 {
		opts.Tail = strconv.Itoa(req.Num)
	}
	err = eng.Logs(ctx, s.serviceContainer(svc), opts, out.Stdout, out.Stderr)
	if errors.Is(err, docker.ErrNotFound) {
		return api.Empty{}, api.Errorf(api.CodeNotFound, "%s service %s has no container; start it with %s:start %s", titleKind(svc.Kind), svc.Name, svc.Kind, svc.Name)
	}
	if ctx.Err() != nil {
		return api.Empty{}, nil
	}
	return api.Empty{}, err
}

// parseExpose reads expose's argument into "ADDR:PORT" (port 0: choose).
func parseExpose(arg string) (string, int, error) {
	host, port := "127.0.0.1", ""
	switch {
	case arg == "":
	case strings.Contains(arg, ":"):
		h, p, err := net.SplitHostPort(arg)
		if err != nil {
			return "", 0, fmt.Errorf("invalid address %q: want PORT, ADDR or ADDR:PORT", arg)
		}
		host, port = h, p
	case net.ParseIP(arg) != nil:
		host = arg
	default:
		port = arg
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("invalid address %q: want an IP address", host)
	}
	p := 0
	if port != "" {
		var err error
		if p, err = strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", 0, fmt.Errorf("invalid port %q: want 1-65535", port)
		}
	}
	return host, p, nil
}

// serviceExpose publishes the service's port on the host. Docker cannot add
// a port to a running container, so the container is recreated (the data
// stays; clients see a restart of a few seconds).
func (s *Service) serviceExpose(ctx context.Context, req api.ServiceExpose, out api.Output) (api.ServiceInfo, error) {
	host, port, err := parseExpose(req.Addr)
	if err != nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	return s.setExpose(ctx, req.ServiceRef, out, func(svc store.Service) (string, error) {
		if svc.Expose != "" {
			return "", api.Errorf(api.CodeConflict, "Service %s already exposed on %s; unexpose it first", svc.Name, svc.Expose)
		}
		if port == 0 {
			l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				return "", api.Errorf(api.CodeInvalid, "cannot listen on %s: %v", host, err)
			}
			port = l.Addr().(*net.TCPAddr).Port
			l.Close()
		}
		return net.JoinHostPort(host, strconv.Itoa(port)), nil
	})
}

func (s *Service) serviceUnexpose(ctx context.Context, req api.ServiceRef, out api.Output) (api.ServiceInfo, error) {
	return s.setExpose(ctx, req, out, func(svc store.Service) (string, error) {
		if svc.Expose == "" {
			return "", api.Errorf(api.CodeInvalid, "Service %s is not exposed", svc.Name)
		}
		return "", nil
	})
}

// setExpose recreates a service's container with the exposure expose
// decides from the service, under the service's lock.
func (s *Service) setExpose(ctx context.Context, ref api.ServiceRef, out api.Output, expose func(store.Service) (string, error)) (api.ServiceInfo, error) {
	err := s.onService(ctx, ref, func(eng serviceEngine, sk serviceKind, old store.Service) error {
		next := old
		var err error
		if next.Expose, err = expose(old); err != nil {
			return err
		}
		if err := s.replaceService(ctx, eng, sk, old, next, "expose", out); err != nil {
			return err
		}
		return s.store.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateService(next) })
	})
	if err != nil {
		return api.ServiceInfo{}, err
	}
	return s.serviceInfo(ctx, ref, api.Output{})
}

// quiet drops a step's progress output.
var quiet = api.Output{Stdout: io.Discard, Stderr: io.Discard}

// replaceService recreates a service's container as next describes (same
// data); when that fails, it brings the container back as old was.
func (s *Service) replaceService(ctx context.Context, eng serviceEngine, sk serviceKind, old, next store.Service, what string, out api.Output) error {
	if err := s.runService(ctx, eng, sk, next, out); err != nil {
		return s.rollbackTo(ctx, eng, sk, old, out, what, err)
	}
	return nil
}

// rollbackTo brings back the old service after a failed step of what
// (expose, upgrade) and returns the step's error, saying whether the old
// service came back.
func (s *Service) rollbackTo(ctx context.Context, eng serviceEngine, sk serviceKind, old store.Service, out api.Output, what string, cause error) error {
	fmt.Fprintf(out.Stdout, "       The %s failed; going back to %s\n", what, old.Image)
	if err := s.runService(context.WithoutCancel(ctx), eng, sk, old, quiet); err != nil {
		s.log.Error("service not restored after a failed "+what, "kind", old.Kind, "name", old.Name, "err", err)
		return api.Errorf(api.CodeUnavailable, "%s failed (%v) and %s did not come back (%v); its data is in %s", what, cause, old.Image, err, s.serviceDataDir(old))
	}
	return api.Errorf(api.CodeUnavailable, "%s failed, %s is running again with its data: %v", what, old.Image, cause)
}

// serviceExec runs the kind's client (connect) or a command, bash by
// default (enter), in the service's container.
func (s *Service) serviceExec(ctx context.Context, req api.ServiceConnect, sess *api.Session, client bool) (api.RunResult, error) {
	sk, svc, err := s.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.RunResult{}, err
	}
	eng, err := s.svcEngine(ctx)
	if err != nil {
		return api.RunResult{}, err
	}
	cmd := req.Cmd
	switch {
	case client:
		cmd = sk.connect(svc)
	case len(cmd) == 0:
		cmd = []string{"bash"}
	}
	id, err := s.runningService(ctx, eng, svc)
	if err != nil {
		return api.RunResult{}, err
	}
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: cmd, Env: sk.execEnv(svc), TTY: req.TTY, Stdin: sess.Stdin, Stdout: sess.Stdout, Stderr: sess.Stderr, Resize: sess.Resize})
	return api.RunResult{ExitCode: code}, err
}
