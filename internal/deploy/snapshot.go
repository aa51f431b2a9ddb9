package deploy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Snapshots before migrations (docs/data-safety.md): a deploy whose release
// runs a predeploy or a release command first copies the databases linked
// to the app (the "snapshot" step) and records the copies with the release.
// A predeploy or release command that fails puts them back before the
// deploy ends, so the running release keeps serving with the data it had;
// releases:rollback --with-data puts them back with an earlier release's
// code. The newest releases:set APP snapshots-keep N releases' snapshots
// are kept.

// Snapshotter copies and restores the databases linked to an app (the
// services package's Manager is one; the daemon wires it).
type Snapshotter interface {
	// Snapshot copies each Postgres database linked to app, before
	// release's predeploy or release command; nil when none is linked.
	// Progress lines go to out.
	Snapshot(ctx context.Context, app string, release int, out io.Writer) ([]store.ReleaseSnapshot, error)
	// Restore puts each snapshot's database back as it was when the
	// snapshot was taken; each database is replaced at once or not at
	// all.
	Restore(ctx context.Context, snaps []store.ReleaseSnapshot, out io.Writer) error
	// Remove deletes the snapshots' files.
	Remove(snaps []store.ReleaseSnapshot) error
}

// defaultSnapshotsKeep is how many releases keep their snapshots.
const defaultSnapshotsKeep = 5

func init() {
	app.Register(app.Setting{Namespace: "releases", Key: "snapshots-keep", Scope: app.ScopeBoth, Default: strconv.Itoa(defaultSnapshotsKeep), Validate: func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 100 {
			return app.Invalidf("Invalid snapshots-keep %q: a number of releases from 0 (no snapshots) to 100", v)
		}
		return nil
	}})
}

// snapshotsKeep is the app's releases snapshots-keep (0: no snapshots).
func (d *Deployer) snapshotsKeep(ctx context.Context, a store.App) (int, error) {
	var v string
	err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { v, err = setting(tx, a, "releases", "snapshots-keep"); return err })
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return defaultSnapshotsKeep, nil
	}
	return n, nil
}

// migrates names what of the release changes data before it goes live:
// "predeploy", "release command", or "" for nothing.
func (j *job) migrates() string {
	switch {
	case j.files.AppJSON != nil && j.files.AppJSON.Scripts.Dokku.Predeploy != "":
		return "predeploy"
	case j.files.Procfile != nil:
		if _, ok := j.files.Procfile.Lookup("release"); ok {
			return "release command"
		}
	}
	return ""
}

// snapshot is the step before the predeploy: when the release runs a
// predeploy or release command, it copies the app's linked databases and
// records the copies with the release, then prunes the old ones. A copy
// that fails stops the deploy before anything ran.
func (j *job) snapshot(ctx context.Context) error {
	what := j.migrates()
	if j.d.snapshots == nil || what == "" {
		return nil
	}
	keep, err := j.d.snapshotsKeep(ctx, j.app)
	if err != nil || keep == 0 {
		return err
	}
	snaps, err := j.d.snapshots.Snapshot(ctx, j.app.Name, j.rel.Number, j.out)
	if err != nil {
		return fmt.Errorf("snapshot the linked databases before the %s: %w (nothing ran; releases:set %s snapshots-keep 0 deploys without snapshots)", what, err, j.app.Name)
	}
	if len(snaps) == 0 {
		return nil
	}
	err = j.d.store.Tx(ctx, func(tx *store.Tx) error {
		for i := range snaps {
			snaps[i].Release = j.rel.Number
			s, err := tx.AddReleaseSnapshot(j.app, snaps[i])
			if err != nil {
				return err
			}
			snaps[i] = s
		}
		return nil
	})
	if err != nil {
		j.d.snapshots.Remove(snaps)
		return err
	}
	j.snaps = snaps
	for _, s := range snaps {
		j.info("Snapshot of %s %s before the %s: %s in %.2fs", s.Kind, s.Service, what, humanBytes(s.Bytes), s.Took.Seconds())
	}
	j.d.pruneSnapshots(ctx, j.app, keep)
	return nil
}

// restoreAfterFailure puts back the snapshots this deploy took, after its
// predeploy or release command failed: the running release keeps serving
// with the data it had. It returns what the release's error adds.
func (j *job) restoreAfterFailure(stepName string) string {
	if len(j.snaps) == 0 || j.d.snapshots == nil || (stepName != "predeploy" && stepName != "release-command") {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	j.info("The %s failed: restoring the linked databases from the snapshot taken before it", stepName)
	if err := j.d.snapshots.Restore(ctx, j.snaps, j.out); err != nil {
		j.d.log.Error("restore the snapshot after a failed deploy", "app", j.app.Name, "release", j.rel.Number, "err", err)
		fmt.Fprintf(j.out, " !     Restoring the snapshot failed: %s\n", firstLine(err.Error()))
		fmt.Fprintf(j.out, " !     The databases are as the %s left them; the snapshot is kept with release %d (releases:info %s %d)\n", stepName, j.rel.Number, j.app.Name, j.rel.Number)
		return " (restoring the snapshot failed: " + firstLine(err.Error()) + ")"
	}
	j.d.log.Info("snapshot restored after a failed deploy", "app", j.app.Name, "release", j.rel.Number)
	j.info("Databases restored to the snapshot; the running release keeps serving")
	return " (databases restored from the snapshot taken before it)"
}

// pruneSnapshots keeps the snapshots of the app's newest keep releases
// that have any, and removes the others' files and records.
func (d *Deployer) pruneSnapshots(ctx context.Context, a store.App, keep int) {
	var gone []store.ReleaseSnapshot
	err := d.store.Tx(ctx, func(tx *store.Tx) error {
		all, err := tx.ReleaseSnapshots(a)
		if err != nil {
			return err
		}
		gone = snapshotsBeyond(all, keep)
		for _, s := range gone {
			if err := tx.DeleteReleaseSnapshot(s.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && len(gone) > 0 {
		err = d.snapshots.Remove(gone)
	}
	if err != nil {
		d.log.Warn("prune snapshots", "app", a.Name, "err", err)
	}
}

// snapshotsBeyond returns the snapshots of all but the newest keep
// releases among all (sorted by release).
func snapshotsBeyond(all []store.ReleaseSnapshot, keep int) []store.ReleaseSnapshot {
	var rels []int
	for _, s := range all {
		if !slices.Contains(rels, s.Release) {
			rels = append(rels, s.Release)
		}
	}
	if len(rels) <= keep {
		return nil
	}
	slices.Sort(rels)
	cut := rels[len(rels)-keep-1] // the newest release that goes
	var out []store.ReleaseSnapshot
	for _, s := range all {
		if s.Release <= cut {
			out = append(out, s)
		}
	}
	return out
}

// Snapshots returns an app's snapshots by release number.
func (d *Deployer) Snapshots(ctx context.Context, appName string) (map[int][]store.ReleaseSnapshot, error) {
	s, err := d.state(ctx, appName)
	if err != nil {
		return nil, err
	}
	var all []store.ReleaseSnapshot
	err = d.store.Tx(ctx, func(tx *store.Tx) (err error) { all, err = tx.ReleaseSnapshots(s.app); return err })
	out := map[int][]store.ReleaseSnapshot{}
	for _, sn := range all {
		out[sn.Release] = append(out[sn.Release], sn)
	}
	return out, err
}

// DataPlan is what releases:rollback --with-data would do: make release
// Target live again (Live is live now) and restore the snapshots taken
// before release From, the first release after Target that took any.
type DataPlan struct {
	Target, Live, From int
	Snapshots          []store.ReleaseSnapshot
}

// PlanDataRollback resolves releases:rollback APP N --with-data without
// changing anything: the release it makes live and the snapshots it
// restores, or the one-line error saying why it cannot.
func (d *Deployer) PlanDataRollback(ctx context.Context, appName string, n int) (DataPlan, error) {
	target, live, err := d.rollbackTarget(ctx, appName, n)
	if err != nil {
		return DataPlan{}, err
	}
	snaps, err := d.Snapshots(ctx, appName)
	if err != nil {
		return DataPlan{}, err
	}
	p := DataPlan{Target: target.Number, Live: live.Number}
	for r, s := range snaps {
		if r > target.Number && (p.From == 0 || r < p.From) {
			p.From, p.Snapshots = r, s
		}
	}
	if p.From == 0 {
		return p, app.Invalidf("No snapshot to restore: no release after %d took one (snapshots are taken before the predeploy or release command of an app linked to Postgres); nothing changed", target.Number)
	}
	return p, nil
}

// restoreData is the rollback step that restores the snapshots of a
// --with-data rollback, before the earlier release's containers start.
func (j *job) restoreData(ctx context.Context) error {
	if j.restoreFrom == nil {
		return nil
	}
	p := j.restoreFrom
	j.info("Restoring the databases as they were before release %d (%s): changes since then are discarded", p.From, p.Snapshots[0].CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	if err := j.d.snapshots.Restore(context.WithoutCancel(ctx), p.Snapshots, j.out); err != nil {
		return fmt.Errorf("restore the snapshot of release %d: %w", p.From, err)
	}
	j.info("Databases restored")
	return nil
}

// humanBytes is n as "12.3 MB".
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// DropSnapshots removes the files of all of an app's snapshots (apps:destroy;
// the records go with the app).
func (d *Deployer) DropSnapshots(ctx context.Context, appName string) {
	if d.snapshots == nil {
		return
	}
	all, err := d.Snapshots(ctx, appName)
	var snaps []store.ReleaseSnapshot
	for _, s := range all {
		snaps = append(snaps, s...)
	}
	if err == nil {
		err = d.snapshots.Remove(snaps)
	}
	if err != nil {
		d.log.Warn("remove the snapshots of a destroyed app", "app", appName, "err", err)
	}
}
