package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/store"
)

// The watch: switch on proof, retire late, switch back on a crash.
//
// A process type's startup checks (app.json healthchecks, CHECKS, or with
// none a short uptime, settle) decide when the switch may happen. Checks
// that pass prove the app answers; they say nothing of an app that dies a
// few seconds later, which a 10 s uptime wait before the switch (Dokku's,
// for types without checks) would have caught. So once a deploy has
// switched, the deployer keeps watching the new containers in the
// background until each has run the uptime window (checks:set
// default-uptime-seconds, 10 s) since its start, and keeps the old
// containers running meanwhile: the old web ones out of the proxy's
// rotation (they retire after wait-to-retire, counted from the end of the
// watch), the others as they were. When a new container stops or restarts
// within the window, the old release is put back live and routed to again,
// the new containers go, and the release is marked failed (releases,
// releases:info, logs:failed show why). A later deploy of the app ends the
// watch at once (it is the newer word), and the deploy command returns as
// soon as the switch is done: the watch holds the app's deploy lock only
// until another operation asks for it.

// watchPoll is how often the watch looks at the new containers.
const watchPoll = 200 * time.Millisecond

// watchWindow is how long after their start the new containers are
// watched once live: the uptime window, when some new container of a type
// with checks on exists (0 otherwise: nothing to watch).
func (j *job) watchWindow(set appSettings) time.Duration {
	if set.uptime <= 0 || len(j.watched(set)) == 0 {
		return 0
	}
	return time.Duration(set.uptime) * time.Second
}

// watchNeeded reports whether some watched container has not yet run the
// window since its start (a window of settle or less was waited out before
// the switch).
func (j *job) watchNeeded(ctx context.Context, set appSettings) bool {
	for _, s := range j.watched(set) {
		det, err := j.eng.InspectContainer(ctx, s.id)
		if err != nil || det.StartedAt.IsZero() || time.Since(det.StartedAt) < j.watch {
			return true
		}
	}
	return false
}

// watched are the new containers the watch looks at.
func (j *job) watched(set appSettings) []started {
	var out []started
	for _, s := range j.started {
		if !set.checksOff(s.typ) {
			out = append(out, s)
		}
	}
	return out
}

// noteWatch says, in the deploy's output, what the watch will do.
func (j *job) noteWatch(ctx context.Context) {
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		return
	}
	var names []string
	for _, s := range j.watched(set) {
		names = append(names, s.dyno())
	}
	back := fmt.Sprintf("release %d takes the traffic back", j.undoLive())
	switch {
	case j.redeploy:
		back = "the previous containers take the traffic back"
	case j.undoLive() == 0:
		back = "the release is marked failed"
	}
	j.info("Watching %s until each has run %s: if one stops, %s", strings.Join(names, ", "), j.watch, back)
}

// startWatch starts watching the new containers after a deploy that
// switched, handing the deploy lock (unlock) to the watch, and reports
// whether it did. Without a watch the old containers retire at once.
func (j *job) startWatch(ctx context.Context, unlock func()) bool {
	if !j.switched || j.watch <= 0 {
		return false
	}
	ctx = context.WithoutCancel(ctx)
	set, err := j.d.settings(ctx, j.app)
	if err != nil {
		j.d.log.Warn("read settings for the watch", "app", j.app.Name, "err", err)
		j.retireOld(ctx)
		return false
	}
	ws := j.watched(set)
	j.out = io.Discard // the client is gone once the deploy returns
	wctx, cancel := context.WithCancel(ctx)
	j.d.locks.setPreempt(j.app.Name, cancel)
	j.d.retiring.Add(1)
	go func() {
		defer j.d.backgroundDone()
		defer unlock()
		defer cancel()
		j.runWatch(wctx, ctx, ws)
	}()
	return true
}

// undoLive is the release that was live before the switch (0: none).
func (j *job) undoLive() int {
	if j.undo.prev == nil {
		return 0
	}
	return j.undo.prev.Number
}

// runWatch polls the watched containers until each has run j.watch since
// its start (or wctx ends: a newer deploy, which supersedes this one), then
// retires the old containers; if one stops or restarts first, it switches
// back.
func (j *job) runWatch(wctx, ctx context.Context, ws []started) {
	firstStart := map[string]time.Time{}
	for {
		done := true
		for _, s := range ws {
			c := engineContainer{eng: j.eng, id: s.id, name: s.dyno()}
			running, restarts, startedAt, err := c.State(ctx)
			if err != nil && !errors.Is(err, docker.ErrNotFound) {
				// The engine did not answer: judge at the next look.
				done = false
				continue
			}
			if first, ok := firstStart[s.id]; !ok && err == nil {
				firstStart[s.id] = startedAt
			} else if ok && !startedAt.Equal(first) {
				restarts++
			}
			switch {
			case err != nil:
				j.switchBack(ctx, s, "is gone")
				return
			case !running || restarts > 0:
				why := "stopped"
				if running || restarts > 0 {
					why = "restarted"
				}
				j.switchBack(ctx, s, why+fmt.Sprintf(" %s after its start", time.Since(firstStart[s.id]).Round(100*time.Millisecond)))
				return
			case time.Since(startedAt) < j.watch:
				done = false
			}
		}
		if done {
			j.retireOld(ctx)
			return
		}
		select {
		case <-wctx.Done():
			// A newer deploy of the app: it decides from here.
			j.retireOld(ctx)
			return
		case <-time.After(watchPoll):
		}
	}
}

// retireOld retires the old containers the switch replaced: the web ones
// after wait-to-retire, the others now, in the background (the deploy lock
// is not held while they take their stop timeout).
func (j *job) retireOld(ctx context.Context) {
	j.scheduleRetire(ctx)
	if len(j.stopLater) > 0 {
		set, _ := j.d.settings(ctx, j.app)
		d, eng, app, stop := j.d, j.eng, j.app.Name, j.stopLater
		j.stopLater = nil
		d.retiring.Add(1)
		go func() {
			defer d.backgroundDone()
			d.stopAndRemove(eng, app, stop, time.Duration(set.stopTimeout)*time.Second)
		}()
	}
}

// switchBack undoes a switch whose new container s stopped within the
// watch: the old release is live and routed to again, its containers get
// their names back, the new containers go, and the release is marked
// failed with why and its image removed (a redeploy's release stays live:
// the old containers of that release serve again).
func (j *job) switchBack(ctx context.Context, s started, why string) {
	reason := fmt.Sprintf("watch: %s %s, within the %s uptime window", s.dyno(), why, j.watch)
	j.d.log.Warn("switching back", "app", j.app.Name, "release", j.rel.Number, "why", reason)
	defer j.ended(0, &StepError{Step: "watch", Err: errors.New(reason)})
	// The traffic first: the old release live and routed to again.
	if err := j.unswitch(ctx, j.undo); err != nil {
		j.d.log.Error("switch back", "app", j.app.Name, "err", err)
	}
	if j.d.router != nil {
		if err := j.d.router.Sync(ctx, j.app.Name); err != nil {
			j.d.log.Error("route to the old containers again", "app", j.app.Name, "err", err)
		}
	}
	j.failed.Add(logs.Explain(ctx, j.eng, s.id, s.dyno()))
	for _, n := range j.started {
		if err := j.eng.RemoveContainer(ctx, n.id, true); err != nil && !errors.Is(err, docker.ErrNotFound) {
			j.d.log.Warn("remove a container of a release switched back", "app", j.app.Name, "container", n.id, "err", err)
		}
	}
	for id, name := range j.oldNames {
		if err := j.eng.RenameContainer(ctx, id, name); err != nil && !errors.Is(err, docker.ErrNotFound) {
			j.d.log.Warn("rename an old container back", "app", j.app.Name, "container", name, "err", err)
		}
	}
	if j.d.router != nil {
		// The proxy names its targets in its status and logs.
		if err := j.d.router.Sync(ctx, j.app.Name); err != nil {
			j.d.log.Warn("route after renaming containers back", "app", j.app.Name, "err", err)
		}
	}
	if err := j.d.keepFailedOutput(j.app.Name, j.rel.Number, j.failed.Containers()); err != nil {
		j.d.log.Warn("keep the output of a failed deploy", "app", j.app.Name, "err", err)
	}
	if j.redeploy {
		return
	}
	j.rel.Status, j.rel.Error, j.rel.FinishedAt = store.ReleaseFailed, reason, j.d.now()
	if err := j.d.store.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateRelease(j.rel) }); err != nil {
		j.d.log.Error("record a release switched back", "app", j.app.Name, "err", err)
	}
	// Failed, it cannot be rolled back to: its image and source go now,
	// as on the failure path, not at the next pruning.
	j.dropRelease()
}
