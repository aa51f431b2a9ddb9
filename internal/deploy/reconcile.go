package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// Reconciling is "read state, emit a plan, apply it": diff works out from
// what the live release and formation want and what the engine has what is
// to be done, without an engine; apply does it.

// wanted is what an app's process containers should be: those of its live
// release and generation, as many of each type as the formation says.
type wanted struct {
	app        string
	release    int
	generation string
	processes  map[string]string
	formation  map[string]int
}

// slotAction brings one TYPE.N up: it starts the kept container id, or
// creates one when id is "".
type slotAction struct {
	typ   string
	index int
	name  string // the container's final name, APP.TYPE.N
	id    string
}

// reconcilePlan is what Reconcile does, in order: rename (names follow
// labels), bring slots up, and retire (drain, stop, remove) the containers
// no slot keeps.
type reconcilePlan struct {
	renames []naming.Rename
	up      []slotAction
	retire  []docker.ContainerInfo
}

// diff plans the reconciliation of have (the engine's process containers
// of the app, newest first) with want. A container of the live release and
// generation keeps its slot (the newest, when two claim one); one beyond
// the formation or of a type the release does not run is extra and
// retires; one of another release or generation (left by an interrupted
// deploy, or still waiting to retire) retires only with tidy (the daemon's
// start). Kept containers take their final names, and any other container
// holding one of those names is renamed as retiring (after a daemon that
// stopped in the middle of a switch's renames); epoch is the time for those
// names.
func diff(n naming.Names, want wanted, have []docker.ContainerInfo, tidy bool, epoch int64) reconcilePlan {
	live := strconv.Itoa(want.release)
	kept := map[string]docker.ContainerInfo{}
	var extra, stale []docker.ContainerInfo
	for _, c := range have {
		typ := c.Labels[naming.LabelProcess]
		i := naming.Index(c)
		_, isType := want.processes[typ]
		slot := fmt.Sprintf("%s.%d", typ, i)
		switch {
		case c.Labels[naming.LabelRelease] != live || c.Labels[naming.LabelGeneration] != want.generation:
			stale = append(stale, c)
		case !isType || i < 1 || i > want.formation[typ]:
			extra = append(extra, c)
		case kept[slot].ID != "":
			extra = append(extra, c)
		default:
			kept[slot] = c
		}
	}
	var p reconcilePlan
	names := map[string]string{}
	for _, typ := range slices.Sorted(maps.Keys(want.processes)) {
		for i := 1; i <= want.formation[typ]; i++ {
			name := n.Container(want.app, typ, i)
			c, ok := kept[fmt.Sprintf("%s.%d", typ, i)]
			names[name] = c.ID
			switch {
			case !ok:
				p.up = append(p.up, slotAction{typ: typ, index: i, name: name})
			case c.State != "running" && c.State != "restarting":
				p.up = append(p.up, slotAction{typ: typ, index: i, name: name, id: c.ID})
			}
		}
	}
	p.renames = naming.PlanRenames(n, want.app, have, names, false, epoch)
	p.retire = extra
	if tidy {
		p.retire = append(p.retire, stale...)
	}
	return p
}

// countOf counts the slots of typ among up.
func countOf(up []slotAction, typ string) int {
	n := 0
	for _, a := range up {
		if a.typ == typ {
			n++
		}
	}
	return n
}

// withoutQueued drops the containers on the retire queue from cs.
func withoutQueued(cs []docker.ContainerInfo, queued []store.Retiring) []docker.ContainerInfo {
	skip := map[string]bool{}
	for _, q := range queued {
		skip[q.ContainerID] = true
	}
	var out []docker.ContainerInfo
	for _, c := range cs {
		if !skip[c.ID] {
			out = append(out, c)
		}
	}
	return out
}

// drainAddrs are the proxy targets among containers about to retire.
func drainAddrs(cs []docker.ContainerInfo) []string {
	var addrs []string
	for _, c := range cs {
		if c.HostPort != 0 && c.State == "running" {
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", c.HostPort))
		}
	}
	return addrs
}

// Reconcile makes the app's process containers match its live release and
// formation: missing ones are created, stopped ones started, and extra ones
// (above the formation) leave the proxy, drain and stop. New web containers
// pass their health checks before they get traffic. With tidy (the daemon's
// start), containers of other releases, left by an interrupted deploy, go
// too. A stopped app (ps:stop) is left alone.
func (d *Deployer) Reconcile(ctx context.Context, appName string, out io.Writer, tidy bool) error {
	s, err := d.state(ctx, appName)
	if err != nil || !s.deployed || s.app.Stopped {
		return err
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return err
	}
	cs, err := eng.ListContainers(ctx, d.names.KindLabels(appName, naming.KindProcess), true)
	if err != nil {
		return err
	}
	sw, svcs, err := d.swarmServices(ctx, appName)
	if err != nil {
		return err
	}
	if sw != nil && onSwarm(svcs, cs, set) {
		files, _ := d.releaseFiles(appName, s.live.Number, set.procfilePath)
		j := &job{d: d, eng: eng, app: s.app, rel: s.live, files: files, out: out}
		return j.reconcileSwarm(ctx, sw, svcs, set, s.formation, tidy)
	}
	want := wanted{app: appName, release: s.live.Number, generation: set.generation, processes: s.live.Processes, formation: s.formation}
	p := diff(d.names, want, cs, tidy, d.now().Unix())
	// Old containers on the retire queue go on their own schedule
	// (ResumeInterrupted), drained first.
	var queued []store.Retiring
	if err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { queued, err = tx.RetiringOf(s.app); return err }); err != nil {
		return err
	}
	p.retire = withoutQueued(p.retire, queued)
	files, _ := d.releaseFiles(appName, s.live.Number, set.procfilePath)
	j := &job{d: d, eng: eng, app: s.app, rel: s.live, files: files, out: out}
	return j.applyReconcile(ctx, p, set, tidy)
}

// applyReconcile carries out a reconciliation plan. New containers are
// checked (unless tidy) before the proxy routes to them, and removed when
// they fail; then the retiring ones leave the proxy, drain and go.
func (j *job) applyReconcile(ctx context.Context, p reconcilePlan, set appSettings, tidy bool) error {
	eng, appName := j.eng, j.app.Name
	renamed := map[string]string{}
	for _, r := range p.renames {
		if err := eng.RenameContainer(ctx, r.ID, r.To); err != nil {
			if !errors.Is(err, docker.ErrNotFound) {
				j.d.log.Warn("rename container", "app", appName, "container", r.From, "to", r.To, "err", err)
			}
			continue
		}
		renamed[r.ID] = r.To
	}
	announced := map[string]bool{}
	specs := make([]docker.ContainerSpec, len(p.up))
	for k, a := range p.up {
		if !announced[a.typ] && !tidy {
			// Dokku's line for each type a scale or restore brings up.
			announced[a.typ] = true
			j.info("Deploying %s: starting %d", a.typ, countOf(p.up, a.typ))
		}
		if a.id != "" {
			continue
		}
		spec, err := j.d.spec(j.app, j.rel, set, a.typ, a.index, a.name, set.generation)
		if err != nil {
			return err
		}
		specs[k] = spec
	}
	// The slots come up at once, up to startConcurrency (ps:scale web=3).
	ids, errs := make([]string, len(p.up)), make([]error, len(p.up))
	sem := make(chan struct{}, startConcurrency)
	var wg sync.WaitGroup
	for k, a := range p.up {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if a.id != "" {
				errs[k] = eng.StartContainer(ctx, a.id)
				return
			}
			eng.RemoveContainer(ctx, a.name, true)
			ids[k], errs[k] = createStartOne(ctx, eng, specs[k])
		})
	}
	wg.Wait()
	var first error
	for k, a := range p.up {
		switch {
		case errs[k] != nil:
			if ids[k] != "" { // created, not started
				eng.RemoveContainer(ctx, ids[k], true)
			}
			if first == nil {
				first = errs[k]
			}
		default:
			j.info("Starting %s.%d", a.typ, a.index)
			if a.id == "" {
				j.started = append(j.started, started{id: ids[k], typ: a.typ, index: a.index, final: a.name})
			}
		}
	}
	if first != nil {
		return first
	}
	// New containers earn their traffic as in a deploy.
	if len(j.started) > 0 && !tidy {
		if err := j.check(ctx); err != nil {
			for _, st := range j.started {
				eng.RemoveContainer(context.WithoutCancel(ctx), st.id, true)
			}
			return err
		}
	}
	if j.d.router != nil {
		if err := j.d.router.Sync(ctx, appName); err != nil {
			return err
		}
	}
	if addrs := drainAddrs(p.retire); j.d.router != nil && len(addrs) > 0 {
		j.d.router.Drain(ctx, addrs, time.Duration(set.drainTimeout)*time.Second)
	}
	for _, c := range p.retire {
		if name, ok := renamed[c.ID]; ok {
			c.Name = name
		}
		j.info("Removing %s", c.Name)
		eng.StopContainer(ctx, c.ID, time.Duration(set.stopTimeout)*time.Second)
		if err := eng.RemoveContainer(ctx, c.ID, true); err != nil {
			return err
		}
	}
	return nil
}
