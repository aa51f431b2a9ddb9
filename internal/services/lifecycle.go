package services

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// The commands of a service's life: create, list, info, destroy, start,
// stop, restart, pause, logs, expose and unexpose, connect and enter.

func (m *Manager) serviceCreate(ctx context.Context, req api.ServiceCreate, out api.Output) (api.ServiceInfo, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	if err := checkServiceName(req.Kind, req.Name); err != nil {
		return api.ServiceInfo{}, err
	}
	svc := store.Service{Kind: req.Kind, Name: req.Name, Image: m.serviceImage(sk, req.Image, req.ImageVersion), Password: req.Password, CustomEnv: req.CustomEnv, CreatedAt: m.now()}
	if _, err := parseCustomEnv(req.CustomEnv); err != nil {
		return api.ServiceInfo{}, err
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
	defer m.lock(req.Kind, req.Name)()
	if err := m.store.Tx(ctx, func(tx *store.Tx) error {
		others, err := tx.Services(req.Kind)
		if err != nil {
			return err
		}
		return nameTaken(req.Kind, req.Name, others)
	}); err != nil {
		return api.ServiceInfo{}, err
	}
	if _, err := os.Stat(m.serviceRoot(req.Kind, req.Name)); err == nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeConflict, "%s exists but no %s service %s is recorded; move it away first", m.serviceRoot(req.Kind, req.Name), req.Kind, req.Name)
	}
	eng, err := m.engine(ctx)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	if err := ensureImage(ctx, eng, svc.Image, out); err != nil {
		return api.ServiceInfo{}, err
	}
	// Nothing half-created: any failure below removes what was made.
	undo := func() {
		c := context.WithoutCancel(ctx)
		eng.RemoveContainer(c, m.serviceContainer(svc), true)
		os.RemoveAll(m.serviceRoot(svc.Kind, svc.Name))
	}
	fmt.Fprintf(out.Stdout, "       Waiting for container to be ready\n")
	if err := m.runService(ctx, eng, sk, svc, out); err != nil {
		undo()
		return api.ServiceInfo{}, err
	}
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
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
	m.log.Info("service created", "kind", req.Kind, "name", req.Name, "image", svc.Image)
	return m.serviceInfo(ctx, req.ServiceRef, api.Output{})
}

func (m *Manager) serviceList(ctx context.Context, req api.ServiceRef, _ api.Output) (api.ServiceList, error) {
	res := api.ServiceList{Services: []api.ServiceInfo{}}
	if _, err := kindOf(req.Kind); err != nil {
		return res, err
	}
	var svcs []store.Service
	if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { svcs, err = tx.Services(req.Kind); return err }); err != nil {
		return res, err
	}
	for _, svc := range svcs {
		info, err := m.serviceInfo(ctx, api.ServiceRef{Kind: req.Kind, Name: svc.Name}, api.Output{})
		if err != nil {
			return res, err
		}
		res.Services = append(res.Services, info)
	}
	return res, nil
}

func (m *Manager) serviceInfo(ctx context.Context, req api.ServiceRef, _ api.Output) (api.ServiceInfo, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	var svc store.Service
	var links []store.Link
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if svc, err = m.getService(tx, req); err != nil {
			return err
		}
		links, err = tx.ServiceLinks(svc)
		return err
	})
	if err != nil {
		return api.ServiceInfo{}, err
	}
	info := api.ServiceInfo{Kind: svc.Kind, Name: svc.Name, Image: svc.Image, Version: svc.Image,
		DSN: sk.url(svc, serviceHost(svc.Kind, svc.Name)), ServiceRoot: m.serviceRoot(svc.Kind, svc.Name),
		DataDir: m.serviceDataDir(svc), CustomEnv: svc.CustomEnv, Links: []string{}, CreatedAt: svc.CreatedAt, Status: "missing", ExposedPorts: "-"}
	if sk.configPath != "" {
		info.ConfigDir = m.serviceConfigDir(svc)
	}
	if svc.Expose != "" {
		info.ExposedPorts = fmt.Sprintf("%d->%s", sk.port, svc.Expose)
	}
	for _, l := range links {
		info.Links = append(info.Links, l.App)
	}
	info.Backup = m.backupSummary(ctx, svc)
	info.Restores = m.restores(svc)
	if eng, err := m.connect(ctx); err == nil {
		if det, err := eng.InspectContainer(ctx, m.serviceContainer(svc)); err == nil {
			info.Status, info.ID = det.State, det.ID
			info.InternalIP = det.IPAddress(m.names.ServiceNetwork(svc.Kind, svc.Name))
		}
	}
	return info, nil
}

func (m *Manager) serviceDestroy(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	_, svc, err := m.loadService(ctx, req)
	if err != nil {
		return api.Empty{}, err
	}
	defer m.lock(req.Kind, req.Name)()
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
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
	eng, err := m.engine(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	fmt.Fprintf(out.Stdout, "       Deleting container\n")
	if err := eng.RemoveContainer(ctx, m.serviceContainer(svc), true); err != nil && !errors.Is(err, docker.ErrNotFound) {
		return api.Empty{}, err
	}
	if err := eng.RemoveNetwork(ctx, m.names.ServiceNetwork(svc.Kind, svc.Name)); err != nil {
		m.log.Warn("service network not removed", "kind", req.Kind, "name", req.Name, "err", err)
	}
	m.unscheduleBackups(svc)
	if err := m.store.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteService(svc) }); err != nil {
		return api.Empty{}, err
	}
	fmt.Fprintf(out.Stdout, "       Deleting service data\n")
	if err := os.RemoveAll(m.serviceRoot(req.Kind, req.Name)); err != nil {
		m.log.Error("service data not removed", "kind", req.Kind, "name", req.Name, "err", err)
	}
	m.log.Info("service destroyed", "kind", req.Kind, "name", req.Name)
	return api.Empty{}, nil
}

func (m *Manager) serviceStart(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	return api.Empty{}, m.onService(ctx, req, func(eng Engine, sk serviceKind, svc store.Service) error {
		if err := m.setUserStopped(svc, false); err != nil {
			return err
		}
		return m.startExisting(ctx, eng, sk, svc, out)
	})
}

func (m *Manager) serviceStop(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	return api.Empty{}, m.onService(ctx, req, func(eng Engine, _ serviceKind, svc store.Service) error {
		if err := m.setUserStopped(svc, true); err != nil {
			return err
		}
		return m.stopService(ctx, eng, svc, out)
	})
}

func (m *Manager) serviceRestart(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	return api.Empty{}, m.onService(ctx, req, func(eng Engine, sk serviceKind, svc store.Service) error {
		if err := m.setUserStopped(svc, false); err != nil {
			return err
		}
		if err := m.stopService(ctx, eng, svc, out); err != nil {
			return err
		}
		return m.startExisting(ctx, eng, sk, svc, out)
	})
}

func (m *Manager) servicePause(ctx context.Context, req api.ServiceRef, out api.Output) (api.Empty, error) {
	return api.Empty{}, m.onService(ctx, req, func(eng Engine, _ serviceKind, svc store.Service) error {
		det, err := eng.InspectContainer(ctx, m.serviceContainer(svc))
		if err != nil {
			return err
		}
		if !det.Running || det.State == "paused" {
			fmt.Fprintf(out.Stdout, "       Container is not running\n")
			return nil
		}
		if err := m.setUserStopped(svc, true); err != nil {
			return err
		}
		fmt.Fprintf(out.Stdout, "=====> Pausing container\n")
		if err := eng.PauseContainer(ctx, det.ID); err != nil {
			return err
		}
		fmt.Fprintf(out.Stdout, "       Container paused\n")
		return nil
	})
}

func (m *Manager) serviceLogs(ctx context.Context, req api.ServiceLogs, out api.Output) (api.Empty, error) {
	_, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.Empty{}, err
	}
	eng, err := m.engine(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	opts := docker.LogsOptions{Follow: req.Tail}
	if req.Num > 0 {
		opts.Tail = strconv.Itoa(req.Num)
	}
	err = eng.Logs(ctx, m.serviceContainer(svc), opts, out.Stdout, out.Stderr)
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
func (m *Manager) serviceExpose(ctx context.Context, req api.ServiceExpose, out api.Output) (api.ServiceInfo, error) {
	host, port, err := parseExpose(req.Addr)
	if err != nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "%v", err)
	}
	return m.setExpose(ctx, req.ServiceRef, out, func(svc store.Service) (string, error) {
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

func (m *Manager) serviceUnexpose(ctx context.Context, req api.ServiceRef, out api.Output) (api.ServiceInfo, error) {
	return m.setExpose(ctx, req, out, func(svc store.Service) (string, error) {
		if svc.Expose == "" {
			return "", api.Errorf(api.CodeInvalid, "Service %s is not exposed", svc.Name)
		}
		return "", nil
	})
}

// setExpose recreates a service's container with the exposure expose
// decides from the service, under the service's lock.
func (m *Manager) setExpose(ctx context.Context, ref api.ServiceRef, out api.Output, expose func(store.Service) (string, error)) (api.ServiceInfo, error) {
	err := m.onService(ctx, ref, func(eng Engine, sk serviceKind, old store.Service) error {
		next := old
		var err error
		if next.Expose, err = expose(old); err != nil {
			return err
		}
		if err := m.replaceService(ctx, eng, sk, old, next, "expose", out); err != nil {
			return err
		}
		return m.store.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateService(next) })
	})
	if err != nil {
		return api.ServiceInfo{}, err
	}
	return m.serviceInfo(ctx, ref, api.Output{})
}

// serviceExec runs the kind's client (connect) or a command, bash by
// default (enter), in the service's container.
func (m *Manager) serviceExec(ctx context.Context, req api.ServiceConnect, sess *api.Session, client bool) (api.RunResult, error) {
	sk, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.RunResult{}, err
	}
	eng, err := m.engine(ctx)
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
	id, err := m.runningService(ctx, eng, svc)
	if err != nil {
		return api.RunResult{}, err
	}
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: cmd, Env: sk.execEnv(svc), TTY: req.TTY, Stdin: sess.Stdin, Stdout: sess.Stdout, Stderr: sess.Stderr, Resize: sess.Resize})
	return api.RunResult{ExitCode: code}, err
}
