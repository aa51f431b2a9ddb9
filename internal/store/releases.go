package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Release statuses.
const (
	ReleasePending    = "pending"
	ReleaseLive       = "live"
	ReleaseFailed     = "failed"
	ReleaseSuperseded = "superseded"
)

// ErrReleaseNotFound is returned when an app has no such release.
var ErrReleaseNotFound = errors.New("release not found")

// Release is one deploy of an app.
type Release struct {
	ID        int64
	AppID     int64
	Number    int
	Status    string
	Source    string
	SourceRef string
	GitRev    string
	Image     string
	ImageID   string
	// Processes maps each process type to its command ("" runs the image's CMD).
	Processes  map[string]string
	WebPort    int
	CreatedAt  time.Time
	FinishedAt time.Time
	Error      string
	// Config is the app's own config vars when the release was made.
	Config map[string]string
	// Formation is the quantity of each process type it ran with.
	Formation map[string]int
	// StartedBy says who started the deploy ("a git push by key me").
	StartedBy string
	// RollbackOf is the release this one rolled back to (0: none).
	RollbackOf int
	// Steps are how long the steps of the release's last deploy took (its
	// first, or the last redeploy of it), in the order they ran; written
	// by SetReleaseSteps only.
	Steps []StepTime
}

// StepTime is how long one step of a deploy took.
type StepTime struct {
	Step     string        `json:"step"`
	Duration time.Duration `json:"-"`
}

// stepJSON is how StepTime is kept: whole milliseconds.
type stepJSON struct {
	Step string `json:"step"`
	MS   int64  `json:"ms"`
}

const releaseCols = "id, app_id, number, status, source, source_ref, git_rev, image, image_id, processes, web_port, created_at, finished_at, error, config, formation, started_by, rollback_of, steps"

func scanRelease(row interface{ Scan(...any) error }) (Release, error) {
	var r Release
	var procs, config, formation, steps string
	var created, finished int64
	err := row.Scan(&r.ID, &r.AppID, &r.Number, &r.Status, &r.Source, &r.SourceRef, &r.GitRev, &r.Image, &r.ImageID, &procs, &r.WebPort, &created, &finished, &r.Error, &config, &formation, &r.StartedBy, &r.RollbackOf, &steps)
	if err != nil {
		return r, err
	}
	var st []stepJSON
	if err := json.Unmarshal([]byte(steps), &st); err != nil {
		return r, fmt.Errorf("release %d steps: %w", r.Number, err)
	}
	for _, s := range st {
		r.Steps = append(r.Steps, StepTime{Step: s.Step, Duration: time.Duration(s.MS) * time.Millisecond})
	}
	if err := json.Unmarshal([]byte(config), &r.Config); err != nil {
		return r, fmt.Errorf("release %d config: %w", r.Number, err)
	}
	if err := json.Unmarshal([]byte(formation), &r.Formation); err != nil {
		return r, fmt.Errorf("release %d formation: %w", r.Number, err)
	}
	r.CreatedAt = time.Unix(created, 0)
	if finished > 0 {
		r.FinishedAt = time.Unix(finished, 0)
	}
	if err := json.Unmarshal([]byte(procs), &r.Processes); err != nil {
		return r, fmt.Errorf("release %d processes: %w", r.Number, err)
	}
	return r, nil
}

// CreateRelease adds a pending release numbered one above the app's last.
func (t *Tx) CreateRelease(a App, r Release) (Release, error) {
	var last int
	if err := t.tx.QueryRowContext(t.ctx, "SELECT COALESCE(MAX(number), 0) FROM releases WHERE app_id = ?", a.ID).Scan(&last); err != nil {
		return r, fmt.Errorf("number release of %s: %w", a.Name, err)
	}
	r.AppID, r.Number = a.ID, last+1
	if r.Status == "" {
		r.Status = ReleasePending
	}
	if r.Processes == nil {
		r.Processes = map[string]string{}
	}
	procs, _ := json.Marshal(r.Processes)
	config, formation := jsonOf(r.Config), jsonOf(r.Formation)
	res, err := t.exec("INSERT INTO releases (app_id, number, status, source, source_ref, git_rev, image, image_id, processes, web_port, created_at, error, config, formation, started_by, rollback_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		a.ID, r.Number, r.Status, r.Source, r.SourceRef, r.GitRev, r.Image, r.ImageID, string(procs), r.WebPort, r.CreatedAt.Unix(), r.Error, config, formation, r.StartedBy, r.RollbackOf)
	if err != nil {
		return r, fmt.Errorf("create release of %s: %w", a.Name, err)
	}
	r.ID, err = res.LastInsertId()
	return r, err
}

// UpdateRelease writes back a release's mutable fields.
func (t *Tx) UpdateRelease(r Release) error {
	procs, _ := json.Marshal(r.Processes)
	var finished int64
	if !r.FinishedAt.IsZero() {
		finished = r.FinishedAt.Unix()
	}
	_, err := t.exec("UPDATE releases SET status = ?, git_rev = ?, image = ?, image_id = ?, processes = ?, web_port = ?, finished_at = ?, error = ?, config = ?, formation = ? WHERE id = ?",
		r.Status, r.GitRev, r.Image, r.ImageID, string(procs), r.WebPort, finished, r.Error, jsonOf(r.Config), jsonOf(r.Formation), r.ID)
	if err != nil {
		return fmt.Errorf("update release %d: %w", r.Number, err)
	}
	return nil
}

// SetReleaseSteps records how long the steps of the last deploy of release
// r took (it replaces what an earlier deploy of r recorded).
func (t *Tx) SetReleaseSteps(r Release, steps []StepTime) error {
	st := make([]stepJSON, 0, len(steps))
	for _, s := range steps {
		st = append(st, stepJSON{Step: s.Step, MS: s.Duration.Milliseconds()})
	}
	b, _ := json.Marshal(st)
	if _, err := t.exec("UPDATE releases SET steps = ? WHERE id = ?", string(b), r.ID); err != nil {
		return fmt.Errorf("record the steps of release %d: %w", r.Number, err)
	}
	return nil
}

// MakeLive marks r live and the app's previous live release superseded.
func (t *Tx) MakeLive(r Release, now time.Time) error {
	if _, err := t.exec("UPDATE releases SET status = ? WHERE app_id = ? AND status = ? AND id != ?", ReleaseSuperseded, r.AppID, ReleaseLive, r.ID); err != nil {
		return err
	}
	_, err := t.exec("UPDATE releases SET status = ?, finished_at = ?, error = '' WHERE id = ?", ReleaseLive, now.Unix(), r.ID)
	return err
}

// Releases returns an app's releases, newest first.
func (t *Tx) Releases(a App) ([]Release, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+releaseCols+" FROM releases WHERE app_id = ? ORDER BY number DESC", a.ID)
	if err != nil {
		return nil, fmt.Errorf("list releases of %s: %w", a.Name, err)
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Release returns release number n of an app.
func (t *Tx) Release(a App, n int) (Release, error) {
	r, err := scanRelease(t.tx.QueryRowContext(t.ctx, "SELECT "+releaseCols+" FROM releases WHERE app_id = ? AND number = ?", a.ID, n))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrReleaseNotFound
	}
	return r, err
}

// LiveRelease returns the app's live release, or ErrReleaseNotFound when it
// has none (never deployed, or every deploy failed).
func (t *Tx) LiveRelease(a App) (Release, error) {
	r, err := scanRelease(t.tx.QueryRowContext(t.ctx, "SELECT "+releaseCols+" FROM releases WHERE app_id = ? AND status = ?", a.ID, ReleaseLive))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrReleaseNotFound
	}
	return r, err
}

// LiveReleaseNumbers returns the number of each app's live release, by
// app ID (apps without one are absent): one query for every app.
func (t *Tx) LiveReleaseNumbers() (map[int64]int, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT app_id, number FROM releases WHERE status = ?", ReleaseLive)
	if err != nil {
		return nil, fmt.Errorf("list live releases: %w", err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var app int64
		var n int
		if err := rows.Scan(&app, &n); err != nil {
			return nil, err
		}
		out[app] = n
	}
	return out, rows.Err()
}

// FailPendingReleases marks every pending release failed with reason (a
// daemon that stopped mid-deploy leaves them behind) and returns them.
func (t *Tx) FailPendingReleases(reason string, now time.Time) ([]Release, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+releaseCols+" FROM releases WHERE status = ?", ReleasePending)
	if err != nil {
		return nil, err
	}
	var out []Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	_, err = t.exec("UPDATE releases SET status = ?, error = ?, finished_at = ? WHERE status = ?", ReleaseFailed, reason, now.Unix(), ReleasePending)
	return out, err
}

// Formation returns how many containers of each type the app should run.
func (t *Tx) Formation(a App) (map[string]int, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT type, quantity FROM formation WHERE app_id = ?", a.ID)
	if err != nil {
		return nil, fmt.Errorf("read formation of %s: %w", a.Name, err)
	}
	defer rows.Close()
	f := map[string]int{}
	for rows.Next() {
		var typ string
		var n int
		if err := rows.Scan(&typ, &n); err != nil {
			return nil, err
		}
		f[typ] = n
	}
	return f, rows.Err()
}

// SetFormation replaces the app's formation.
func (t *Tx) SetFormation(a App, f map[string]int) error {
	if _, err := t.exec("DELETE FROM formation WHERE app_id = ?", a.ID); err != nil {
		return err
	}
	for typ, n := range f {
		if _, err := t.exec("INSERT INTO formation (app_id, type, quantity) VALUES (?, ?, ?)", a.ID, typ, n); err != nil {
			return fmt.Errorf("set formation of %s: %w", a.Name, err)
		}
	}
	return nil
}

// jsonOf encodes a map as JSON, nil as an empty object.
func jsonOf[V any](m map[string]V) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}
