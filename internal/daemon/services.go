package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// serviceKind describes a kind of backing service.
type serviceKind struct {
	name, image, envVar, colorPrefix, dataPath string
	port, passwordBytes                        int
	env                                        func(svc store.Service) []string
	url                                        func(svc store.Service, host string) string
	ready, connect                             func(svc store.Service) []string
	// execEnv is the environment of ready and connect commands (passwords
	// go there, not on a command line other users could read).
	execEnv func(svc store.Service) []string
}

// dbName is Dokku's database name: the service name with - and . as _.
func dbName(name string) string { return strings.NewReplacer("-", "_", ".", "_").Replace(name) }

var serviceKinds = map[string]serviceKind{
	"postgres": {
		name: "postgres", image: "berth/postgres:15", envVar: "DATABASE_URL", colorPrefix: "DOKKU_POSTGRES_",
		dataPath: "/var/lib/postgresql/data", port: 5432, passwordBytes: 16,
		env: func(s store.Service) []string {
			return []string{"POSTGRES_PASSWORD=" + s.Password, "POSTGRES_DB=" + dbName(s.Name)}
		},
		url: func(s store.Service, host string) string {
			return fmt.Sprintf("postgres://postgres:%s@%s:5432/%s", s.Password, host, dbName(s.Name))
		},
		ready: func(s store.Service) []string { return []string{"pg_isready", "-h", "127.0.0.1", "-U", "postgres"} },
		connect: func(s store.Service) []string {
			return []string{"psql", "-U", "postgres", dbName(s.Name)}
		},
		execEnv: func(s store.Service) []string { return nil },
	},
	"redis": {
		name: "redis", image: "berth/redis:7", envVar: "REDIS_URL", colorPrefix: "DOKKU_REDIS_",
		dataPath: "/data", port: 6379, passwordBytes: 32,
		env: func(s store.Service) []string { return []string{"REDIS_PASSWORD=" + s.Password} },
		url: func(s store.Service, host string) string {
			return fmt.Sprintf("redis://:%s@%s:6379", s.Password, host)
		},
		ready:   func(s store.Service) []string { return []string{"redis-cli", "ping"} },
		connect: func(s store.Service) []string { return []string{"redis-cli"} },
		execEnv: func(s store.Service) []string { return []string{"REDISCLI_AUTH=" + s.Password} },
	},
}

// colors are the alias colors of Dokku's service plugins, in order.
var colors = []string{"AQUA", "BLACK", "BLUE", "FUCHSIA", "GRAY", "GREEN", "LIME", "MAROON", "NAVY", "OLIVE", "PURPLE", "RED", "SILVER", "TEAL", "WHITE", "YELLOW"}

var serviceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,47}$`)

func kindOf(k string) (serviceKind, error) {
	sk, ok := serviceKinds[k]
	if !ok {
		return sk, api.Errorf(api.CodeInvalid, "Unknown service kind %q", k)
	}
	return sk, nil
}

// serviceHost is the name app containers reach a service at (Dokku's).
func serviceHost(kind, name string) string { return "dokku-" + kind + "-" + name }

func (s *Service) serviceDir(kind, name string) string {
	return filepath.Join(s.dataDir, "services", kind, name)
}

func (s *Service) getService(tx *store.Tx, ref api.ServiceRef) (store.Service, error) {
	svc, err := tx.Service(ref.Kind, ref.Name)
	if errors.Is(err, store.ErrServiceNotFound) {
		return svc, api.Errorf(api.CodeNotFound, "%s service %s does not exist", ref.Kind, ref.Name)
	}
	return svc, err
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
	api.Handle(m, api.ServicesList, func(ctx context.Context, req api.ServiceRef, _ api.Output) (api.ServiceList, error) {
		res := api.ServiceList{Services: []api.ServiceInfo{}}
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
	})
	api.Handle(m, api.ServicesInfo, s.serviceInfo)
	api.Handle(m, api.ServicesLink, s.serviceLink)
	api.Handle(m, api.ServicesUnlink, s.serviceUnlink)
	api.HandleSession(m, api.ServicesConnect, func(ctx context.Context, creq api.ServiceConnect, sess *api.Session) (api.RunResult, error) {
		req := creq.ServiceRef
		sk, err := kindOf(req.Kind)
		if err != nil {
			return api.RunResult{}, err
		}
		var svc store.Service
		if err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { svc, err = s.getService(tx, req); return err }); err != nil {
			return api.RunResult{}, err
		}
		eng, err := s.engine(ctx)
		if err != nil {
			return api.RunResult{}, deployError(err)
		}
		code, err := eng.Exec(ctx, s.deployer.Names().Service(req.Kind, req.Name), docker.ExecOptions{Cmd: sk.connect(svc), Env: sk.execEnv(svc), TTY: creq.TTY, Stdin: sess.Stdin, Stdout: sess.Stdout, Stderr: sess.Stderr, Resize: sess.Resize})
		return api.RunResult{ExitCode: code}, err
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) serviceCreate(ctx context.Context, req api.ServiceCreate, out api.Output) (api.ServiceInfo, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	if !serviceNameRE.MatchString(req.Name) {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "Invalid %s service name %q: lower-case letters, digits, - and _ (at most 48)", req.Kind, req.Name)
	}
	image := sk.image
	if req.Image != "" || req.ImageVersion != "" {
		repo, tag, _ := strings.Cut(sk.image, ":")
		if req.Image != "" {
			repo = req.Image
		}
		if req.ImageVersion != "" {
			tag = req.ImageVersion
		}
		image = repo + ":" + tag
	}
	pw := req.Password
	if pw == "" {
		pw = randomHex(sk.passwordBytes)
	}
	eng, err := s.engine(ctx)
	if err != nil {
		return api.ServiceInfo{}, deployError(err)
	}
	if _, err := eng.InspectImage(ctx, image); err != nil {
		if errors.Is(err, docker.ErrNotFound) {
			return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "Image %s is not on the engine: build it with scripts/build-service-images (Berth pulls nothing)", image)
		}
		return api.ServiceInfo{}, err
	}
	var svc store.Service
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		svc, err = tx.CreateService(store.Service{Kind: req.Kind, Name: req.Name, Image: image, Password: pw, CreatedAt: s.now()})
		if errors.Is(err, store.ErrServiceExists) {
			return api.Errorf(api.CodeConflict, "%s service %s already exists", req.Kind, req.Name)
		}
		return err
	})
	if err != nil {
		return api.ServiceInfo{}, err
	}
	// Nothing half-created: any failure below removes what was made.
	undo := func() {
		c := context.WithoutCancel(ctx)
		eng.RemoveContainer(c, s.deployer.Names().Service(req.Kind, req.Name), true)
		os.RemoveAll(s.serviceDir(req.Kind, req.Name))
		s.store.Tx(c, func(tx *store.Tx) error { return tx.DeleteService(svc) })
	}
	if err := s.startService(ctx, eng, sk, svc, out); err != nil {
		undo()
		return api.ServiceInfo{}, err
	}
	s.log.Info("service created", "kind", req.Kind, "name", req.Name, "image", image)
	return s.serviceInfo(ctx, req.ServiceRef, api.Output{})
}

// startService creates and starts a service's container and waits until it
// answers.
func (s *Service) startService(ctx context.Context, eng interface {
	EnsureNetwork(context.Context, string, map[string]string) error
	CreateContainer(context.Context, docker.ContainerSpec) (string, error)
	StartContainer(context.Context, string) error
	Exec(context.Context, string, docker.ExecOptions) (int, error)
}, sk serviceKind, svc store.Service, out api.Output) error {
	names := s.deployer.Names()
	data := filepath.Join(s.serviceDir(svc.Kind, svc.Name), "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	if err := eng.EnsureNetwork(ctx, names.Network(), map[string]string{"berth.instance": names.Instance()}); err != nil {
		return err
	}
	host := serviceHost(svc.Kind, svc.Name)
	id, err := eng.CreateContainer(ctx, docker.ContainerSpec{
		Name: names.Service(svc.Kind, svc.Name), Image: svc.Image, Env: sk.env(svc), Hostname: host,
		Labels:         map[string]string{"berth.instance": names.Instance(), "berth.kind": "service", "berth.service.kind": svc.Kind, "berth.service.name": svc.Name},
		Binds:          []string{data + ":" + sk.dataPath},
		Network:        names.Network(),
		NetworkAliases: []string{host},
		RestartPolicy:  "unless-stopped",
		StopTimeout:    30,
	})
	if err != nil {
		return err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: sk.ready(svc), Env: sk.execEnv(svc)})
		if err == nil && code == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return api.Errorf(api.CodeUnavailable, "%s service %s did not become ready within 60s", svc.Kind, svc.Name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
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
	info := api.ServiceInfo{Kind: svc.Kind, Name: svc.Name, Image: svc.Image, DSN: sk.url(svc, serviceHost(svc.Kind, svc.Name)),
		DataDir: filepath.Join(s.serviceDir(svc.Kind, svc.Name), "data"), Links: []string{}, CreatedAt: svc.CreatedAt, Status: "missing"}
	for _, l := range links {
		info.Links = append(info.Links, l.App)
	}
	if eng, err := s.engine(ctx); err == nil {
		if det, err := eng.InspectContainer(ctx, s.deployer.Names().Service(svc.Kind, svc.Name)); err == nil {
			info.Status = det.State
		}
	}
	return info, nil
}

func (s *Service) serviceDestroy(ctx context.Context, req api.ServiceRef, _ api.Output) (api.Empty, error) {
	var svc store.Service
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if svc, err = s.getService(tx, req); err != nil {
			return err
		}
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
	eng, err := s.engine(ctx)
	if err != nil {
		return api.Empty{}, deployError(err)
	}
	if err := eng.RemoveContainer(ctx, s.deployer.Names().Service(req.Kind, req.Name), true); err != nil && !errors.Is(err, docker.ErrNotFound) {
		return api.Empty{}, err
	}
	if err := s.store.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteService(svc) }); err != nil {
		return api.Empty{}, err
	}
	os.RemoveAll(s.serviceDir(req.Kind, req.Name))
	s.log.Info("service destroyed", "kind", req.Kind, "name", req.Name)
	return api.Empty{}, nil
}

func (s *Service) serviceLink(ctx context.Context, req api.ServiceLink, out api.Output) (api.ServiceLinkResult, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceLinkResult{}, err
	}
	var res api.ServiceLinkResult
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		svc, err := s.getService(tx, req.ServiceRef)
		if err != nil {
			return err
		}
		a, err := getApp(tx, req.App)
		if err != nil {
			return err
		}
		links, err := tx.AppLinks(a)
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Service.ID == svc.ID {
				return api.Errorf(api.CodeConflict, "Already linked as %s", l.Var)
			}
		}
		vars, err := tx.Config(a.Scope())
		if err != nil {
			return err
		}
		switch {
		case req.Alias != "":
			res.Var = strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(req.Alias)) + "_URL"
			if !keyRE.MatchString(res.Var) {
				return api.Errorf(api.CodeInvalid, "Invalid alias %q", req.Alias)
			}
		case vars[sk.envVar] == "":
			res.Var = sk.envVar
		default:
			for _, c := range colors {
				if v := sk.colorPrefix + c + "_URL"; vars[v] == "" {
					res.Var = v
					break
				}
			}
		}
		if err := tx.AddLink(svc, a, res.Var); err != nil {
			return err
		}
		return tx.SetConfig(a.Scope(), map[string]string{res.Var: sk.url(svc, serviceHost(svc.Kind, svc.Name))})
	})
	if err != nil {
		return res, err
	}
	s.log.Info("service linked", "kind", req.Kind, "name", req.Name, "app", req.App, "var", res.Var)
	if !req.NoRestart {
		if _, err := s.redeploy.Redeploy(ctx, req.App, out); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (s *Service) serviceUnlink(ctx context.Context, req api.ServiceLink, out api.Output) (api.ServiceLinkResult, error) {
	var res api.ServiceLinkResult
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		svc, err := s.getService(tx, req.ServiceRef)
		if err != nil {
			return err
		}
		a, err := getApp(tx, req.App)
		if err != nil {
			return err
		}
		links, err := tx.AppLinks(a)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(links, func(l store.Link) bool { return l.Service.ID == svc.ID })
		if i < 0 {
			return api.Errorf(api.CodeInvalid, "Not linked to %s", req.App)
		}
		res.Var = links[i].Var
		if err := tx.RemoveLink(svc, a); err != nil {
			return err
		}
		_, err = tx.UnsetConfig(a.Scope(), []string{res.Var})
		return err
	})
	if err != nil {
		return res, err
	}
	if !req.NoRestart {
		if _, err := s.redeploy.Redeploy(ctx, req.App, out); err != nil {
			return res, err
		}
	}
	return res, nil
}

var keyRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
