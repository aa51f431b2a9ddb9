// Package daemon is `berth serve`: it owns the data directory, the database
// and the control socket, and wires the parts of Berth together.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/enginewatch"
	"github.com/berthpaas/berth/internal/gitserver"
	"github.com/berthpaas/berth/internal/memtrim"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
	"github.com/berthpaas/berth/internal/version"
)

// ShutdownTimeout bounds how long a stopping daemon waits for in-flight
// requests.
const ShutdownTimeout = 30 * time.Second

// Options are what the daemon needs from the rest of the binary.
type Options struct {
	// RunCommand runs remote commands (ssh) through the command table.
	RunCommand api.CommandRunner
	// Ready, if not nil, is called once the control socket accepts requests.
	Ready func()
}

// Run serves until ctx is cancelled, then shuts down gracefully.
func Run(ctx context.Context, s settings.Settings, log *slog.Logger, opts Options) error {
	// Everything the daemon writes (the database holds secrets) is private.
	syscall.Umask(0o077)
	if err := os.MkdirAll(s.DataDir, 0o711); err != nil {
		return fmt.Errorf("create data directory %s: %w", s.DataDir, err)
	}
	unlock, err := lockDataDir(s.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := writeDefaultConfig(s.ConfigFile); err != nil {
		log.Warn("could not write the default config file", "file", s.ConfigFile, "err", err)
	}

	st, err := store.Open(ctx, filepath.Join(s.DataDir, "berth.db"))
	if err != nil {
		return err
	}
	defer st.Close()

	// Memory freed by a command's work, or by a deploy's work in the
	// background, goes back to the kernel once the daemon is quiet
	// (package memtrim).
	trim := memtrim.New(memtrim.Quiet)
	eng := &engineConn{}
	defer eng.close()
	exits := enginewatch.NewExits()
	notes := newNotify(st, s, log) // notifications:*, told by the hooks of daemon/notify.go
	notes.Start(ctx)
	// The deployer asks routing (ports, domains, the proxy) and the services
	// (networks), which are built with it: hooks reach them once they exist.
	hooks := &deployHooks{}
	copts, containerOpts := newContainerOpts(st, s.StorageDir, log)
	nets := newNetworks(st, s, log, eng.get, naming.Names{Prefix: s.NamePrefix}) // network:*
	reg := newClusterRegistry(s.DataDir, log, eng.get)                           // the swarm's images
	defer reg.Stop()
	deployer := deploy.New(deploy.Config{
		Store: st, Engine: placeContainers(eng.get, nets), Names: naming.Names{Prefix: s.NamePrefix}, DataDir: s.DataDir, Log: log,
		Router: attachingRouter{hooks, nets}, NetworkFor: hooks.networkFor, PortFor: hooks.portFor, CheckHostFor: hooks.checkHost,
		LastExit: lastExit(exits), ContainerOptions: containerOpts, Idle: trim.Touch,
		Publisher: reg, Swarm: swarmEngine(eng.get), AttachOverlay: hooks.attachOverlay,
		NodeShell: newNodeShell(s.DataDir), // enter on other nodes
		Ended:     deployEnded(notes),
		Snapshots: hooks,
	})
	mux := api.NewMux(log, mapError)
	svc := NewService(st, s.DataDir, log, deployer)
	svcs := newServices(st, s, log, eng.get, deployer, svc.redeploy, notes)
	hooks.networks = svcs
	hooks.snapshots = svcs
	svc.services = svcs
	if svc.berthBin, err = os.Executable(); err != nil {
		return fmt.Errorf("find the berth binary: %w", err)
	}
	rt, proxyStatus, err := newRouting(ctx, st, s, log, svc.berthBin, eng.get, deployer, notes)
	if err != nil {
		return err
	}
	svc.routing = rt
	hooks.ports = rt
	if proxyStatus != nil {
		svc.proxyAddr, svc.proxyTLSAddr = proxyStatus.HTTPAddr, proxyStatus.HTTPSAddr
		hooks.router = rt
		log.Info("proxy ready", "addr", proxyStatus.HTTPAddr, "pid", proxyStatus.PID)
	}
	// Routes from what runs now, before anything starts: after a reboot the
	// proxy's saved routes name host ports that new containers may take.
	if err := rt.SyncAll(ctx); err != nil {
		log.Warn("sync the proxy's routes", "err", err)
	}
	// Deploys a stop cut short: what they made goes, their old containers
	// retire on schedule (in the background); then they are marked failed.
	deployer.ResumeInterrupted(ctx)
	if err := deployer.FailInterrupted(ctx); err != nil {
		return err
	}
	previews := newPreviews(st, s.DataDir, log, mux, deployer, svcs) // previews:*, branch pushes
	svc.previews = previews                                          // apps:destroy takes an app's previews
	git := newGitServer(st, s, svc, deployer, previews, opts.RunCommand, log)
	svc.gitBuilds = git // ps:rebuild of a pushed app builds its deploy branch
	svc.Register(mux)
	svc.registerRunRetire(mux) // run:retire
	git.Register(mux)
	svcs.Register(mux)
	rt.Register(mux)
	copts.Register(mux)                                     // docker-options, storage, resource
	nets.Register(mux)                                      // network:*
	previews.Register(mux)                                  // previews:*
	newCluster(s, log, eng.get, svc.berthBin).Register(mux) // scheduler-swarm:cluster-*
	svcs.StartBackups(ctx)                                  // scheduled service backups (KIND:backup-schedule)
	// app.json cron tasks (cron:*), run by a scheduler of their own
	crons := newCron(st, s, log, eng.get, deployer)
	crons.Register(mux)
	svc.cronLogs = crons.WriteLogs
	registerLogsFailed(mux, deployer) // logs:failed
	notes.Register(mux)               // notifications:*
	// Metrics: the proxy's request counters and the containers' CPU and
	// memory, sampled in the background (metrics.app; /metrics is
	// svc.MetricsHandler, for the HTTP API).
	svc.metrics = newMetrics(st, s, log, eng.get, proxyStatus != nil)
	svc.metrics.Register(mux)
	crons.Start(ctx)
	// OpenSSH mode: set up or repair the users and their keys, whatever
	// was installed first (before the gateway socket, which needs the group).
	git.SyncOpenSSH(ctx)
	git.WatchSettings(ctx, 2*time.Second) // BERTH_AUTHORIZED_KEYS changes without a restart
	svc.registerVersion(mux, git)
	svc.registerDoctor(mux, st, s, eng, git) // berth doctor
	toks := newTokens(st, log)
	toks.Register(mux)                                                            // tokens:*
	(&auditLog{st: st, log: log}).Register(mux)                                   // events; records every change
	registerDeployLog(mux)                                                        // deploys.follow: the running deploys' output
	dash := newDashboard(st, log, rt, s.APIAddr, svc.proxyAddr, svc.proxyTLSAddr) // dashboard:*
	dash.Register(mux)
	dash.Serve(ctx, mux, toks, svc.MetricsHandler()) // the HTTP API, over every operation registered above

	ln, err := listenSocket(s.Socket)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: trim.Handler(mux), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	// Everything the control socket reports (the ssh address) is set up
	// before it answers.
	gw, err := git.ServeGateway(s.SSHSocket, s.SSHGroup)
	if err != nil {
		ln.Close()
		return err
	}
	defer gw.Close()
	sshSrv, err := git.ServeSSH(s.SSHAddr, filepath.Join(s.DataDir, "ssh_host_ed25519_key"))
	if err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("berth started", "version", version.Version, "data_dir", s.DataDir, "socket", s.Socket, "pid", os.Getpid())
	if opts.Ready != nil {
		opts.Ready()
	}
	// ps:restore: what should run, runs (also after a host reboot or an
	// engine restart): services, then apps, then routes.
	go reg.StartIfManager(ctx)
	go followSwarm(ctx, log, deployer, rt, swarmFollowInterval)
	go watchEngine(ctx, log, eng, exits, svcs, deployer, rt, notes)
	// Certificates renew in-process: no cron.
	rt.StartRenewals(ctx)
	rt.StartPeers()                                      // the other nodes' proxies, in a swarm
	go retireRuns(ctx, log, deployer, RunRetireInterval) // one-off containers past --ttl-seconds
	go previews.Run(ctx, PreviewSweepInterval)           // previews past previews:set APP expire
	go svc.metrics.Run(ctx)

	select {
	case err := <-errc:
		return fmt.Errorf("control socket: %w", err)
	case <-ctx.Done():
	}
	log.Info("berth stopping: waiting for requests in flight", "timeout", ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if sshSrv != nil {
		sshSrv.Shutdown(sctx)
	}
	err = srv.Shutdown(sctx)
	dash.Shutdown(sctx)
	os.Remove(s.Socket)
	svcs.StopBackups(sctx)
	crons.Stop()
	rt.StopRenewals()
	rt.StopPeers()
	notes.Stop(sctx)
	if err != nil {
		log.Warn("shutdown did not finish in time; closing", "err", err)
		srv.Close()
	}
	log.Info("berth stopped")
	return nil
}

// registerVersion adds system.version: this daemon's version and data dir,
// and where its ssh server and proxy listen.
func (svc *Service) registerVersion(mux *api.Mux, git *gitserver.Server) {
	api.Handle(mux, api.SystemVersion, func(context.Context, api.Empty, api.Output) (api.VersionInfo, error) {
		return api.VersionInfo{Version: version.Version, DataDir: svc.dataDir, PID: os.Getpid(), SSHAddr: git.SSHAddr(), ProxyAddr: svc.proxyAddr, ProxyTLSAddr: svc.proxyTLSAddr}, nil
	})
}

// lockDataDir takes an exclusive lock so that one daemon owns a data dir.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "berth.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another berth daemon is already running with data directory %s", dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}

// listenSocket listens on a unix socket that only its owner (root) can use.
// The data dir lock is held, so a socket file left behind is stale.
func listenSocket(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path) // umask 077: born 0600
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func writeDefaultConfig(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(settings.DefaultFile()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
