package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// A service's container: its spec and files, starting it and waiting until
// it answers, stopping it, and recreating it (expose, upgrade, a daemon start
// that finds it gone) with the way back when that fails.

// ensureImage makes sure image is on the engine, pulling it when it is not.
func ensureImage(ctx context.Context, eng Engine, image string, out api.Output) error {
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

// serviceSpec is the container of a service.
func (m *Manager) serviceSpec(sk serviceKind, svc store.Service) docker.ContainerSpec {
	names := m.names
	host := serviceHost(svc.Kind, svc.Name)
	env := sk.env(svc)
	custom, _ := parseCustomEnv(svc.CustomEnv)
	env = append(env, custom...)
	spec := docker.ContainerSpec{
		Name: m.serviceContainer(svc), Image: svc.Image, Env: env, Hostname: host,
		Labels:         names.ServiceLabels(svc.Kind, svc.Name),
		Binds:          []string{m.serviceDataDir(svc) + ":" + sk.dataPath},
		Network:        names.ServiceNetwork(svc.Kind, svc.Name),
		NetworkAliases: serviceAliases(svc.Kind, svc.Name),
		RestartPolicy:  "unless-stopped",
		StopTimeout:    30,
		Memory:         svc.Memory,
		ShmSize:        svc.ShmSize,
	}
	if sk.cmd != nil {
		spec.Cmd = sk.cmd(svc)
	}
	if sk.configPath != "" {
		spec.Binds = append(spec.Binds, m.serviceConfigDir(svc)+":"+sk.configPath)
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
func (m *Manager) writeServiceFiles(sk serviceKind, svc store.Service) error {
	root := m.serviceRoot(svc.Kind, svc.Name)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return err
	}
	// Explicit modes: the daemon runs with umask 077.
	if err := mkdirMode(m.serviceDataDir(svc), 0o755); err != nil {
		return err
	}
	if sk.configFiles == nil {
		return nil
	}
	dir := m.serviceConfigDir(svc)
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
func (m *Manager) runService(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, out api.Output) error {
	if err := m.writeServiceFiles(sk, svc); err != nil {
		return err
	}
	if err := m.ensureServiceNetwork(ctx, eng, svc); err != nil {
		return err
	}
	if err := eng.RemoveContainer(ctx, m.serviceContainer(svc), true); err != nil && !errors.Is(err, docker.ErrNotFound) {
		return err
	}
	id, err := eng.CreateContainer(ctx, m.serviceSpec(sk, svc))
	if err != nil {
		return err
	}
	// On the networks of its linked apps before it starts: they reach it
	// as soon as it answers.
	if err := m.syncServiceNetworks(ctx, eng, svc); err != nil {
		return err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		return m.startFailed(ctx, eng, svc, id, err)
	}
	if err := m.waitService(ctx, eng, sk, svc, id); err != nil {
		return m.startFailed(ctx, eng, svc, id, err)
	}
	return nil
}

// startFailed adds the container's last log lines to a start error.
func (m *Manager) startFailed(ctx context.Context, eng Engine, svc store.Service, id string, err error) error {
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
func (m *Manager) waitService(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, id string) error {
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

// RestoreContainers brings back, at daemon start, every service the user
// did not stop: a container that is gone (removed by hand, an engine that
// lost its state) is recreated on its data, and one that exists but is not
// running (a host reboot, an engine restart that stopped it) is started and
// waited for as create does. A service stopped or paused through KIND:stop
// or KIND:pause stays as it is. Services are restored concurrently; one
// that fails is logged with its name and does not hold up the others.
// Then every service and linked app is put on its networks (SyncNetworks).
func (m *Manager) RestoreContainers(ctx context.Context) {
	defer m.SyncNetworks(ctx)
	var svcs []store.Service
	if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { svcs, err = tx.Services(""); return err }); err != nil || len(svcs) == 0 {
		return
	}
	eng, err := m.engine(ctx)
	if err != nil {
		m.log.Warn("services not checked: no engine", "err", err)
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, restoreParallel)
	for _, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			m.bringBack(ctx, eng, svc)
		}()
	}
	wg.Wait()
}

// restoreParallel bounds how many services start at once at daemon start.
var restoreParallel = 4

// bringBack is RestoreContainers for one service.
func (m *Manager) bringBack(ctx context.Context, eng Engine, svc store.Service) {
	defer m.lock(svc.Kind, svc.Name)()
	sk := serviceKinds[svc.Kind]
	if m.userStopped(svc) {
		m.log.Info("service left stopped, as the user asked", "kind", svc.Kind, "name", svc.Name)
		return
	}
	det, err := eng.InspectContainer(ctx, m.serviceContainer(svc))
	switch {
	case errors.Is(err, docker.ErrNotFound):
		if err := m.runService(ctx, eng, sk, svc, quiet); err != nil {
			m.log.Error("service container not recreated", "kind", svc.Kind, "name", svc.Name, "err", err)
			return
		}
		m.log.Info("service container recreated", "kind", svc.Kind, "name", svc.Name)
	case err != nil:
		m.log.Error("service not checked", "kind", svc.Kind, "name", svc.Name, "err", err)
	case det.Running || det.State == "paused":
	default:
		if err := m.startExisting(ctx, eng, sk, svc, quiet); err != nil {
			m.log.Error("service not started", "kind", svc.Kind, "name", svc.Name, "err", err)
			return
		}
		m.log.Info("service started", "kind", svc.Kind, "name", svc.Name, "was", det.Status)
	}
}

// stoppedFile is the file in a service's root that records that the user
// stopped or paused it (KIND:stop, KIND:pause): the daemon's start leaves
// such a service alone. KIND:start and KIND:restart remove it.
const stoppedFile = "STOPPED"

// userStopped says whether the user stopped or paused the service.
func (m *Manager) userStopped(svc store.Service) bool {
	_, err := os.Stat(filepath.Join(m.serviceRoot(svc.Kind, svc.Name), stoppedFile))
	return err == nil
}

// setUserStopped records (or clears) that the user stopped the service.
func (m *Manager) setUserStopped(svc store.Service, stopped bool) error {
	p := filepath.Join(m.serviceRoot(svc.Kind, svc.Name), stoppedFile)
	if !stopped {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(p, nil, 0o600)
}

// startExisting starts (or unpauses) a service's container, recreating it
// when it is gone or runs another image than the record says.
func (m *Manager) startExisting(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, out api.Output) error {
	det, err := eng.InspectContainer(ctx, m.serviceContainer(svc))
	switch {
	case errors.Is(err, docker.ErrNotFound) || (err == nil && det.Image != svc.Image):
		fmt.Fprintf(out.Stdout, "=====> Starting container\n")
		return m.runService(ctx, eng, sk, svc, out)
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
		if err := m.writeServiceFiles(sk, svc); err != nil {
			return err
		}
		if err := m.syncServiceNetworks(ctx, eng, svc); err != nil {
			return err
		}
		if err := eng.StartContainer(ctx, det.ID); err != nil {
			return err
		}
	}
	if err := m.waitService(ctx, eng, sk, svc, det.ID); err != nil {
		return m.startFailed(ctx, eng, svc, det.ID, err)
	}
	fmt.Fprintf(out.Stdout, "       Container started\n")
	return nil
}

func (m *Manager) stopService(ctx context.Context, eng Engine, svc store.Service, out api.Output) error {
	fmt.Fprintf(out.Stdout, "=====> Stopping container\n")
	det, err := eng.InspectContainer(ctx, m.serviceContainer(svc))
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

// replaceService recreates a service's container as next describes (same
// data); when that fails, it brings the container back as old was.
func (m *Manager) replaceService(ctx context.Context, eng Engine, sk serviceKind, old, next store.Service, what string, out api.Output) error {
	if err := m.runService(ctx, eng, sk, next, out); err != nil {
		return m.rollbackTo(ctx, eng, sk, old, out, what, err)
	}
	return nil
}

// rollbackTo brings back the old service after a failed step of what
// (expose, upgrade) and returns the step's error, saying whether the old
// service came back.
func (m *Manager) rollbackTo(ctx context.Context, eng Engine, sk serviceKind, old store.Service, out api.Output, what string, cause error) error {
	fmt.Fprintf(out.Stdout, "       The %s failed; going back to %s\n", what, old.Image)
	if err := m.runService(context.WithoutCancel(ctx), eng, sk, old, quiet); err != nil {
		m.log.Error("service not restored after a failed "+what, "kind", old.Kind, "name", old.Name, "err", err)
		return api.Errorf(api.CodeUnavailable, "%s failed (%v) and %s did not come back (%v); its data is in %s", what, cause, old.Image, err, m.serviceDataDir(old))
	}
	return api.Errorf(api.CodeUnavailable, "%s failed, %s is running again with its data: %v", what, old.Image, cause)
}

// runningService returns the ID of the service's container, or a clear
// error when it is not running.
func (m *Manager) runningService(ctx context.Context, eng Engine, svc store.Service) (string, error) {
	det, err := eng.InspectContainer(ctx, m.serviceContainer(svc))
	if err != nil && !errors.Is(err, docker.ErrNotFound) {
		return "", err
	}
	if err != nil || det.State != "running" {
		return "", api.Errorf(api.CodeUnavailable, "%s service %s is not running; start it with %s:start %s", titleKind(svc.Kind), svc.Name, svc.Kind, svc.Name)
	}
	return det.ID, nil
}
