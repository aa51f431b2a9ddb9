package deploy

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// ProcessReport describes an app's processes (ps:report): its live release,
// its formation and settings, and its containers.
type ProcessReport struct {
	App           string
	Deployed      bool
	Release       int
	Image         string
	Processes     map[string]string
	Formation     map[string]int
	Stopped       bool
	CanScale      bool // false when app.json fixes the formation
	RestartPolicy string
	StopTimeout   int
	ProcfilePath  string
	Containers    []ProcessStatus
	// EngineError is set when the engine could not be asked about containers.
	EngineError string
}

// ProcessStatus is one live process container.
type ProcessStatus struct {
	Type     string
	Index    int
	State    string
	ID       string
	Name     string
	HostPort int
	// Restarts is the engine's restart count (its restart policy).
	Restarts int
	// LastExit is how it last ended, when known: seen by the daemon
	// (while it ran), or the engine's record of a container that has
	// not started again.
	LastExit *LastExit
	// Node is the address of the swarm node a Swarm task runs on ("":
	// a container on this host).
	Node string
}

// LastExit is how a process container last ended.
type LastExit struct {
	Code      int
	OOMKilled bool
	At        time.Time
	// Count is how many times it ended while the daemon watched (0: the
	// engine's record, not seen by this daemon).
	Count int
}

// Report describes an app's processes (ps:report): its live release,
// formation and containers.
func (d *Deployer) Report(ctx context.Context, appName string) (ProcessReport, error) {
	s, err := d.state(ctx, appName)
	if err != nil {
		return ProcessReport{}, err
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return ProcessReport{}, err
	}
	r := ProcessReport{
		App: appName, Deployed: s.deployed, Release: s.live.Number, Image: s.live.Image, Processes: s.live.Processes,
		Formation: s.formation, Stopped: s.app.Stopped, CanScale: true,
		RestartPolicy: set.restartPolicy, StopTimeout: set.stopTimeout, ProcfilePath: set.procfilePath,
		Containers: []ProcessStatus{},
	}
	if s.deployed {
		files, _ := d.releaseFiles(appName, s.live.Number, set.procfilePath)
		r.CanScale = len(files.LockedTypes()) == 0
	}
	cs, err := d.Containers(ctx, appName, naming.KindProcess, true)
	if err != nil {
		r.EngineError = firstLine(err.Error())
		return r, nil
	}
	for _, c := range cs {
		if !naming.IsLive(c, s.live.Number, set.generation) {
			continue // an old container waiting to retire, or a deploy's new one before its switch
		}
		n, _ := strconv.Atoi(c.Labels[naming.LabelIndex])
		r.Containers = append(r.Containers, d.processStatus(ctx, c, n))
	}
	reps, err := d.Replicas(ctx, appName)
	if err != nil {
		r.EngineError = firstLine(err.Error())
		return r, nil
	}
	for _, rp := range reps {
		r.Containers = append(r.Containers, ProcessStatus{Type: rp.Type, Index: rp.Slot, State: rp.State, ID: rp.TaskID, Name: rp.Service, HostPort: rp.Port, Node: rp.Addr})
	}
	return r, nil
}

// processStatus is one container's line of ps:report: its state, and its
// restarts and last exit (the engine clears a container's exit code and
// OOM mark when it starts it again, so a running container's last exit is
// what the daemon's engine watcher saw).
func (d *Deployer) processStatus(ctx context.Context, c docker.ContainerInfo, index int) ProcessStatus {
	p := ProcessStatus{Type: c.Labels[naming.LabelProcess], Index: index, State: c.State, ID: c.ID, Name: c.Name, HostPort: c.HostPort}
	if d.lastExit != nil {
		if x, ok := d.lastExit(c.ID); ok {
			p.LastExit = &x
		}
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return p
	}
	det, err := eng.InspectContainer(ctx, c.ID)
	if err != nil {
		return p
	}
	p.Restarts = det.RestartCount
	if p.LastExit == nil && !det.Running && !det.FinishedAt.IsZero() {
		p.LastExit = &LastExit{Code: det.ExitCode, OOMKilled: det.OOMKilled, At: det.FinishedAt}
	}
	return p
}

// liveContainers lists an app's process containers of its live release
// and generation (all: stopped ones too), sorted by name: not the old ones
// waiting to retire, nor the new ones of a deploy before its switch.
func (d *Deployer) liveContainers(ctx context.Context, appName string, all bool) ([]docker.ContainerInfo, error) {
	s, err := d.state(ctx, appName)
	if err != nil {
		return nil, err
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return nil, err
	}
	cs, err := d.Containers(ctx, appName, naming.KindProcess, all)
	if err != nil {
		return nil, err
	}
	out := cs[:0]
	for _, c := range cs {
		if naming.IsLive(c, s.live.Number, set.generation) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Inspect returns the engine's inspect JSON of each of an app's live
// process containers.
func (d *Deployer) Inspect(ctx context.Context, appName string) ([]json.RawMessage, error) {
	cs, err := d.liveContainers(ctx, appName, true)
	if err != nil {
		return nil, err
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	for _, c := range cs {
		det, err := eng.InspectContainer(ctx, c.ID)
		if err != nil {
			continue
		}
		out = append(out, det.Raw)
	}
	return out, nil
}

// Releases lists an app's releases, newest first.
func (d *Deployer) Releases(ctx context.Context, appName string) ([]store.Release, error) {
	s, err := d.state(ctx, appName)
	if err != nil {
		return nil, err
	}
	var rels []store.Release
	err = d.store.Tx(ctx, func(tx *store.Tx) (err error) { rels, err = tx.Releases(s.app); return err })
	return rels, err
}

// LivenessCheck returns the liveness path check of a process type from the
// live release's app.json, or nil.
func (d *Deployer) LivenessCheck(ctx context.Context, appName, typ string) *appfile.Healthcheck {
	s, err := d.state(ctx, appName)
	if err != nil || !s.deployed {
		return nil
	}
	files, err := d.releaseFiles(appName, s.live.Number, "")
	if err != nil {
		return nil
	}
	return files.LivenessCheck(typ)
}

// RunChecks runs the startup checks of the app's running containers of the
// given types (all when empty) now, as checks:run does.
func (d *Deployer) RunChecks(ctx context.Context, appName string, types []string, out io.Writer) error {
	s, err := d.state(ctx, appName)
	if err != nil {
		return err
	}
	if !s.deployed {
		return app.Invalidf("%s has not been deployed", appName)
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return err
	}
	files, _ := d.releaseFiles(appName, s.live.Number, set.procfilePath)
	j := &job{d: d, eng: eng, app: s.app, rel: s.live, files: files, out: out}
	cs, err := d.liveContainers(ctx, appName, false)
	if err != nil {
		return err
	}
	// Each of types is a process type (web) or one container of it (web.1).
	matched := map[string]bool{}
	for _, c := range cs {
		typ := c.Labels[naming.LabelProcess]
		slot := typ + "." + c.Labels[naming.LabelIndex]
		if len(types) > 0 && !slices.Contains(types, typ) && !slices.Contains(types, slot) {
			continue
		}
		matched[typ], matched[slot] = true, true
		n, _ := strconv.Atoi(c.Labels[naming.LabelIndex])
		j.started = append(j.started, started{id: c.ID, typ: typ, index: n, final: c.Name})
	}
	for _, t := range types {
		if !matched[t] {
			return app.Invalidf("%s has no running container %s to check; see ps:report %s", appName, t, appName)
		}
	}
	if len(j.started) == 0 {
		return app.Invalidf("%s has no running container to check", appName)
	}
	return j.check(ctx)
}
