package daemon

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// engineConn connects to the Docker Engine on first use and keeps the
// client; while the engine is down every use says so in one line.
type engineConn struct {
	mu sync.Mutex
	c  *docker.Client
}

func (e *engineConn) get(ctx context.Context) (deploy.Engine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c != nil {
		return e.c, nil
	}
	c, err := docker.New(ctx)
	if err != nil {
		return nil, err
	}
	e.c = c
	return c, nil
}

func (e *engineConn) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c != nil {
		e.c.Close()
	}
}

// deployHooks is what the deployer asks the rest of the daemon: the proxy
// (as its deploy.Router), an app's port map and the Host of its path checks
// (routing), and the services' network. Those parts are built after the
// deployer, with it, so the hooks are filled in once they exist (in Run,
// before the control socket serves) and reach them when called. Without a
// proxy, routing and draining do nothing, as with no router.
type deployHooks struct {
	router deploy.Router // nil without a proxy
	ports  interface {
		WebContainerPort(ctx context.Context, app string, detected int) (int, error)
		CheckHost(ctx context.Context, app string) string
	}
	networks interface {
		NetworkFor(ctx context.Context, app string) (string, error)
		AttachOverlay(ctx context.Context, app, network string) error
	}
	// snapshots are the services' snapshots of linked databases (nil
	// until the services exist: none taken).
	snapshots deploy.Snapshotter
}

var _ deploy.Snapshotter = (*deployHooks)(nil)

func (h *deployHooks) Snapshot(ctx context.Context, app string, release int, out io.Writer) ([]store.ReleaseSnapshot, error) {
	if h.snapshots == nil {
		return nil, nil
	}
	return h.snapshots.Snapshot(ctx, app, release, out)
}

func (h *deployHooks) Restore(ctx context.Context, snaps []store.ReleaseSnapshot, out io.Writer) error {
	if h.snapshots == nil {
		return fmt.Errorf("no services: the snapshots cannot be restored")
	}
	return h.snapshots.Restore(ctx, snaps, out)
}

func (h *deployHooks) Remove(snaps []store.ReleaseSnapshot) error {
	if h.snapshots == nil {
		return nil
	}
	return h.snapshots.Remove(snaps)
}

var _ deploy.Router = (*deployHooks)(nil)

func (h *deployHooks) Sync(ctx context.Context, app string) error {
	if h.router == nil {
		return nil
	}
	return h.router.Sync(ctx, app)
}

func (h *deployHooks) Drain(ctx context.Context, addrs []string, timeout time.Duration) (int, error) {
	if h.router == nil {
		return 0, nil
	}
	return h.router.Drain(ctx, addrs, timeout)
}

func (h *deployHooks) portFor(ctx context.Context, app string, detected int) (int, error) {
	return h.ports.WebContainerPort(ctx, app, detected)
}

func (h *deployHooks) checkHost(ctx context.Context, app string) string {
	return h.ports.CheckHost(ctx, app)
}

func (h *deployHooks) networkFor(ctx context.Context, app string) (string, error) {
	return h.networks.NetworkFor(ctx, app)
}

func (h *deployHooks) attachOverlay(ctx context.Context, app, network string) error {
	return h.networks.AttachOverlay(ctx, app, network)
}

// redeployer adapts the Deployer to config changes.
type redeployer struct{ d *deploy.Deployer }

func (r redeployer) Redeploy(ctx context.Context, app string, out api.Output) (bool, error) {
	return r.d.Redeploy(ctx, app, writerOf(out), "config:set")
}

// writerOf returns the output's stdout, or a discarding writer.
func writerOf(out api.Output) io.Writer {
	if out.Stdout != nil {
		return out.Stdout
	}
	return io.Discard
}

func (s *Service) registerDeploy(m *api.Mux) {
	d := s.deployer
	api.HandleSession(m, api.GitFromArchive, func(ctx context.Context, req api.FromArchiveRequest, sess *api.Session) (api.DeployResult, error) {
		if req.URL == "" {
			return api.DeployResult{}, api.Errorf(api.CodeInvalid, "Please specify an archive URL, or - to read the archive from stdin")
		}
		src := deploy.Source{Kind: deploy.SourceArchive, Ref: req.URL, Archive: sess.Stdin, Apps: scopedTo(req.ScopedTo)}
		if req.URL != "-" {
			body, err := download(ctx, req.URL)
			if err != nil {
				return api.DeployResult{}, err
			}
			defer body.Close()
			src.Archive = body
		}
		rel, err := d.Deploy(ctx, req.App, src, sess.Stdout, "git:from-archive")
		if err == nil {
			s.setDeploySource(ctx, req.App, "git:from-archive", req.URL)
		}
		return api.DeployResult{Release: rel.Number}, err
	})
	api.Handle(m, api.GitFromImage, func(ctx context.Context, req api.FromImageRequest, out api.Output) (api.DeployResult, error) {
		if req.Image == "" {
			return api.DeployResult{}, api.Errorf(api.CodeInvalid, "Please specify a docker image")
		}
		rel, err := d.Deploy(ctx, req.App, deploy.Source{Kind: deploy.SourceImage, Ref: req.Image, Apps: scopedTo(req.ScopedTo)}, writerOf(out), "git:from-image")
		if err == nil {
			s.setDeploySource(ctx, req.App, "docker-image", req.Image)
		}
		return api.DeployResult{Release: rel.Number}, err
	})
	api.Handle(m, api.PSRebuild, s.forApps(s.rebuild))
	api.Handle(m, api.PSStart, s.forApps(func(ctx context.Context, app string, out io.Writer) error {
		return d.Start(ctx, app, out)
	}))
	api.Handle(m, api.PSStop, s.forApps(func(ctx context.Context, app string, out io.Writer) error {
		return d.Stop(ctx, app, out)
	}))
	api.Handle(m, api.PSRestart, s.forApps(func(ctx context.Context, app string, out io.Writer) error {
		deployed, err := d.Redeploy(ctx, app, out, "ps:restart")
		if err == nil && !deployed {
			return api.Errorf(api.CodeInvalid, "%s has not been deployed", app)
		}
		return err
	}))
	api.Handle(m, api.PSRestore, s.forApps(func(ctx context.Context, app string, out io.Writer) error {
		return d.Reconcile(ctx, app, out, true)
	}))
	api.Handle(m, api.PSScale, func(ctx context.Context, req api.ScaleRequest, out api.Output) (api.ScaleResult, error) {
		res, err := d.Scale(ctx, req.App, req.Changes, req.SkipDeploy, writerOf(out), "ps:scale")
		if err != nil {
			return api.ScaleResult{}, err
		}
		return api.ScaleResult{Formation: res.Formation, Types: res.Types}, nil
	})
	api.Handle(m, api.PSReportOp, func(ctx context.Context, req api.PSRequest, _ api.Output) (api.PSReports, error) {
		apps, err := s.appNames(ctx, req)
		if err != nil {
			return api.PSReports{}, err
		}
		res := api.PSReports{Reports: []api.PSReport{}}
		for _, a := range apps {
			r, err := d.Report(ctx, a)
			if err != nil {
				return res, err
			}
			res.Reports = append(res.Reports, psReport(r))
		}
		return res, nil
	})
	api.Handle(m, api.PSInspect, func(ctx context.Context, req api.AppRef, _ api.Output) (api.InspectResult, error) {
		raw, err := d.Inspect(ctx, req.App)
		return api.InspectResult{Containers: raw}, err
	})
	api.HandleSession(m, api.Run, func(ctx context.Context, req api.RunRequest, sess *api.Session) (api.RunResult, error) {
		if len(req.Cmd) == 0 {
			return api.RunResult{}, api.Errorf(api.CodeInvalid, "Please specify a command to run")
		}
		code, err := d.Run(ctx, req.App, deploy.RunOptions{Cmd: req.Cmd, Env: req.Env, TTY: req.TTY, TTLSeconds: req.TTLSeconds, Labels: req.Labels, Quiet: req.Quiet}, streamsOf(sess))
		if err != nil && code != 0 {
			// A command that could not start: say why, keep the shell's code.
			fmt.Fprintf(sess.Stderr, " !     %s\n", firstLine(err.Error()))
			return api.RunResult{ExitCode: code}, nil
		}
		return api.RunResult{ExitCode: code}, err
	})
	api.Handle(m, api.RunDetached, func(ctx context.Context, req api.RunRequest, _ api.Output) (api.RunResult, error) {
		if len(req.Cmd) == 0 {
			return api.RunResult{}, api.Errorf(api.CodeInvalid, "Please specify a command to run")
		}
		name, err := d.RunDetached(ctx, req.App, deploy.RunOptions{Cmd: req.Cmd, Env: req.Env, TTLSeconds: req.TTLSeconds, Labels: req.Labels})
		return api.RunResult{Name: name}, err
	})
	api.Handle(m, api.RunList, func(ctx context.Context, req api.AppRef, _ api.Output) (api.ContainerList, error) {
		cs, err := d.Containers(ctx, req.App, naming.KindRun, false)
		res := api.ContainerList{Containers: []api.ContainerSummary{}}
		for _, c := range cs {
			res.Containers = append(res.Containers, api.ContainerSummary{Name: c.Name, ID: c.ID, State: c.State, Status: c.Status, Created: c.Created})
		}
		return res, err
	})
	api.Handle(m, api.RunStop, func(ctx context.Context, req api.RunStopRequest, _ api.Output) (api.Empty, error) {
		return api.Empty{}, d.StopRun(ctx, req.App, req.Name)
	})
	api.HandleSession(m, api.Enter, func(ctx context.Context, req api.EnterRequest, sess *api.Session) (api.RunResult, error) {
		code, err := d.Enter(ctx, req.App, req.Target, req.Cmd, req.TTY, streamsOf(sess))
		if err != nil && code != 0 {
			fmt.Fprintf(sess.Stderr, " !     %s\n", firstLine(err.Error()))
			return api.RunResult{ExitCode: code}, nil
		}
		return api.RunResult{ExitCode: code}, err
	})
	api.Handle(m, api.Logs, func(ctx context.Context, req api.LogsRequest, out api.Output) (api.Empty, error) {
		if s.cronLogs != nil {
			s.cronLogs(ctx, req.App, req.Process, req.Lines, req.Quiet, writerOf(out))
		}
		return api.Empty{}, d.Logs(ctx, req.App, logs.Options{Follow: req.Follow, Lines: req.Lines, Process: req.Process, Quiet: req.Quiet}, writerOf(out))
	})
	api.Handle(m, api.Cleanup, func(ctx context.Context, _ api.Empty, out api.Output) (api.Empty, error) {
		return api.Empty{}, d.Cleanup(ctx, writerOf(out))
	})
	api.Handle(m, api.ReleasesList, func(ctx context.Context, req api.AppRef, _ api.Output) (api.ReleaseList, error) {
		rels, err := d.Releases(ctx, req.App)
		res := api.ReleaseList{Releases: []api.ReleaseInfo{}}
		if err != nil {
			return res, err
		}
		snaps, err := d.Snapshots(ctx, req.App)
		for _, r := range rels {
			res.Releases = append(res.Releases, api.ReleaseInfo{Number: r.Number, Status: r.Status, Source: r.Source, SourceRef: r.SourceRef, GitRev: r.GitRev, Image: r.Image, CreatedAt: r.CreatedAt, Error: r.Error, Snapshots: snapshotInfos(snaps[r.Number])})
		}
		return res, err
	})
}

// streamsOf hands a session's streams to the deployer.
func streamsOf(sess *api.Session) deploy.Streams {
	return deploy.Streams{Stdin: sess.Stdin, Stdout: sess.Stdout, Stderr: sess.Stderr, Resize: sess.Resize}
}

// psReport is a deployer's process report as the API carries it.
func psReport(r deploy.ProcessReport) api.PSReport {
	out := api.PSReport{
		App: r.App, Deployed: r.Deployed, Release: r.Release, Image: r.Image, Processes: r.Processes,
		Formation: r.Formation, Stopped: r.Stopped, CanScale: r.CanScale, RestartPolicy: r.RestartPolicy,
		StopTimeout: r.StopTimeout, ProcfilePath: r.ProcfilePath, EngineError: r.EngineError,
		Containers: []api.ProcessStatus{},
	}
	for _, c := range r.Containers {
		ps := api.ProcessStatus{Type: c.Type, Index: c.Index, State: c.State, ID: c.ID, Name: c.Name, HostPort: c.HostPort, Restarts: c.Restarts, Node: c.Node}
		if x := c.LastExit; x != nil {
			ps.LastExit = &api.ProcessExit{Code: x.Code, OOMKilled: x.OOMKilled, At: x.At}
		}
		out.Containers = append(out.Containers, ps)
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// appNames resolves a PSRequest to app names.
func (s *Service) appNames(ctx context.Context, req api.PSRequest) ([]string, error) {
	if !req.All {
		if req.App == "" {
			return nil, api.Errorf(api.CodeInvalid, "Please specify an app to run the command on")
		}
		return []string{req.App}, nil
	}
	var names []string
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		apps, err := tx.Apps()
		for _, a := range apps {
			names = append(names, a.Name)
		}
		return err
	})
	return names, err
}

// forApps runs fn for the app of a PSRequest, or for every app with --all
// (failures are collected, not fatal).
func (s *Service) forApps(fn func(ctx context.Context, app string, out io.Writer) error) func(context.Context, api.PSRequest, api.Output) (api.Empty, error) {
	return func(ctx context.Context, req api.PSRequest, out api.Output) (api.Empty, error) {
		apps, err := s.appNames(ctx, req)
		if err != nil {
			return api.Empty{}, err
		}
		if !req.All {
			return api.Empty{}, fn(ctx, apps[0], writerOf(out))
		}
		var failed []string
		for _, a := range apps {
			if err := fn(ctx, a, writerOf(out)); err != nil {
				fmt.Fprintf(out.Stderr, " !     %s: %s\n", a, firstLine(err.Error()))
				failed = append(failed, a)
			}
		}
		if len(failed) > 0 {
			return api.Empty{}, api.Errorf(api.CodeInvalid, "Failed for %s", strings.Join(failed, ", "))
		}
		return api.Empty{}, nil
	}
}

func (s *Service) setDeploySource(ctx context.Context, app, source, meta string) {
	s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(app)
		if err != nil {
			return err
		}
		if err := tx.SetProperty(a.Scope(), "apps", "deploy-source", source); err != nil {
			return err
		}
		// git:report's source-image: the image git:from-image deployed.
		if source == "docker-image" {
			err = tx.SetProperty(a.Scope(), "git", "source-image", meta)
		} else {
			err = tx.UnsetProperty(a.Scope(), "git", "source-image")
		}
		if err != nil {
			return err
		}
		return tx.SetProperty(a.Scope(), "apps", "deploy-source-metadata", meta)
	})
}

// download fetches an archive for git:from-archive.
func download(ctx context.Context, url string) (io.ReadCloser, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, api.Errorf(api.CodeInvalid, "Invalid archive URL %q: use an http(s) URL, or - to read the archive from stdin", url)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "Invalid archive URL %q: %v", url, err)
	}
	client := &http.Client{Timeout: 10 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "Could not download %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, api.Errorf(api.CodeInvalid, "Could not download %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

func (s *Service) registerReleases(m *api.Mux) {
	d := s.deployer
	api.Handle(m, api.ReleasesRollback, func(ctx context.Context, req api.RollbackRequest, out api.Output) (api.DeployResult, error) {
		if req.Release < 0 {
			return api.DeployResult{}, api.Errorf(api.CodeInvalid, "Invalid release number %d", req.Release)
		}
		if req.WithData {
			rel, err := d.RollbackWithData(ctx, req.App, req.Release, req.DataFrom, writerOf(out), "releases:rollback --with-data")
			return api.DeployResult{Release: rel.Number}, err
		}
		rel, err := d.Rollback(ctx, req.App, req.Release, writerOf(out), "releases:rollback")
		return api.DeployResult{Release: rel.Number}, err
	})
	api.Handle(m, api.ReleasesDataPlan, func(ctx context.Context, req api.RollbackRequest, _ api.Output) (api.DataPlan, error) {
		if req.Release < 0 {
			return api.DataPlan{}, api.Errorf(api.CodeInvalid, "Invalid release number %d", req.Release)
		}
		p, err := d.PlanDataRollback(ctx, req.App, req.Release)
		return api.DataPlan{Target: p.Target, Live: p.Live, From: p.From, Snapshots: snapshotInfos(p.Snapshots)}, err
	})
	api.Handle(m, api.ReleasesInfo, func(ctx context.Context, req api.ReleaseRef, _ api.Output) (api.ReleaseDetail, error) {
		rels, err := d.Releases(ctx, req.App)
		if err != nil {
			return api.ReleaseDetail{}, err
		}
		for _, r := range rels {
			if r.Number != req.Release {
				continue
			}
			snaps, err := d.Snapshots(ctx, req.App)
			if err != nil {
				return api.ReleaseDetail{}, err
			}
			keys := slices.Sorted(maps.Keys(r.Config))
			var steps []api.StepTime
			for _, s := range r.Steps {
				steps = append(steps, api.StepTime{Step: s.Step, MS: s.Duration.Milliseconds()})
			}
			return api.ReleaseDetail{
				Steps:       steps,
				ReleaseInfo: api.ReleaseInfo{Number: r.Number, Status: r.Status, Source: r.Source, SourceRef: r.SourceRef, GitRev: r.GitRev, Image: r.Image, CreatedAt: r.CreatedAt, Error: r.Error, Snapshots: snapshotInfos(snaps[r.Number])},
				Processes:   r.Processes, Formation: r.Formation, ConfigKeys: keys, StartedBy: r.StartedBy, RollbackOf: r.RollbackOf, FinishedAt: r.FinishedAt,
			}, nil
		}
		return api.ReleaseDetail{}, api.Errorf(api.CodeNotFound, "%s has no release %d; see releases %s", req.App, req.Release, req.App)
	})
	api.Handle(m, api.ChecksRun, func(ctx context.Context, req api.ChecksRequest, out api.Output) (api.Empty, error) {
		return api.Empty{}, d.RunChecks(ctx, req.App, req.Types, writerOf(out))
	})
	api.Handle(m, api.ChecksSetMode, func(ctx context.Context, req api.ChecksMode, _ api.Output) (api.Empty, error) {
		return api.Empty{}, s.setChecksMode(ctx, req)
	})
}

// setChecksMode implements checks:disable, checks:enable and checks:skip.
func (s *Service) setChecksMode(ctx context.Context, req api.ChecksMode) error {
	types := req.Types
	if len(types) == 0 {
		types = []string{"_all_"}
	}
	for _, t := range types {
		if t != "_all_" && !processTypeRE().MatchString(t) {
			return api.Errorf(api.CodeInvalid, "Invalid process type %q", t)
		}
	}
	return s.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		lists := map[string][]string{}
		for _, key := range []string{"disabled", "skipped"} {
			v, _, err := tx.Property(a.Scope(), "checks", key)
			if err != nil {
				return err
			}
			for _, t := range strings.Split(v, ",") {
				if t != "" {
					lists[key] = append(lists[key], t)
				}
			}
		}
		remove := func(list []string) []string {
			var out []string
			for _, t := range list {
				keep := true
				for _, r := range types {
					if t == r || r == "_all_" {
						keep = false
					}
				}
				if keep {
					out = append(out, t)
				}
			}
			return out
		}
		lists["disabled"], lists["skipped"] = remove(lists["disabled"]), remove(lists["skipped"])
		switch req.Mode {
		case "disable":
			lists["disabled"] = append(lists["disabled"], types...)
		case "skip":
			lists["skipped"] = append(lists["skipped"], types...)
		case "enable":
		default:
			return api.Errorf(api.CodeInvalid, "Invalid checks mode %q", req.Mode)
		}
		for key, list := range lists {
			if len(list) == 0 {
				if err := tx.UnsetProperty(a.Scope(), "checks", key); err != nil {
					return err
				}
				continue
			}
			if err := tx.SetProperty(a.Scope(), "checks", key, strings.Join(list, ",")); err != nil {
				return err
			}
		}
		return nil
	})
}

var processTypeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`) })

// scopedTo is a request's ScopedTo as deploy.Source.Apps: nil (no limit) when
// empty.
func scopedTo(apps []string) []string {
	if len(apps) == 0 {
		return nil
	}
	return apps
}

// snapshotInfos are a release's snapshots as the API carries them.
func snapshotInfos(snaps []store.ReleaseSnapshot) []api.SnapshotInfo {
	var out []api.SnapshotInfo
	for _, s := range snaps {
		out = append(out, api.SnapshotInfo{Release: s.Release, Kind: s.Kind, Service: s.Service, Bytes: s.Bytes, TookMS: s.Took.Milliseconds(), CreatedAt: s.CreatedAt})
	}
	return out
}
