package store

import (
	"database/sql"
	"errors"
	"strings"
	"time"
)

// ErrPreviewNotFound is returned for a branch of an app that has no
// preview app.
var ErrPreviewNotFound = errors.New("preview not found")

// PreviewSettings are an app's preview settings (previews:enable, :set).
type PreviewSettings struct {
	Enabled bool
	// Expire is how long a preview lives after its last push; 0 is forever.
	Expire time.Duration
}

// Preview is one preview app: the app made for a pushed branch of Parent.
type Preview struct {
	ID     int64
	Parent string
	App    string
	Branch string
	URL    string
	// Services are the preview's own services, as KIND/NAME.
	Services       []string
	CreatedAt      time.Time
	PushedAt       time.Time
	PostdeployDone bool
	// Predestroy is the pr-predestroy script of the last push's app.json.
	Predestroy string
}

// PreviewSettings reads an app's preview settings (the zero value when
// never set).
func (t *Tx) PreviewSettings(a App) (PreviewSettings, error) {
	var s PreviewSettings
	var secs int64
	err := t.tx.QueryRowContext(t.ctx, "SELECT enabled, expire_seconds FROM preview_settings WHERE app_id = ?", a.ID).Scan(&s.Enabled, &secs)
	if errors.Is(err, sql.ErrNoRows) {
		return PreviewSettings{}, nil
	}
	s.Expire = time.Duration(secs) * time.Second
	return s, err
}

// SetPreviewSettings stores an app's preview settings.
func (t *Tx) SetPreviewSettings(a App, s PreviewSettings) error {
	_, err := t.exec(`INSERT INTO preview_settings (app_id, enabled, expire_seconds) VALUES (?, ?, ?)
		ON CONFLICT (app_id) DO UPDATE SET enabled = excluded.enabled, expire_seconds = excluded.expire_seconds`,
		a.ID, s.Enabled, int64(s.Expire/time.Second))
	return err
}

const previewCols = "p.id, pa.name, a.name, p.branch, p.url, p.services, p.created_at, p.pushed_at, p.postdeploy_done, p.predestroy"

const previewFrom = " FROM previews p JOIN apps pa ON pa.id = p.parent_id JOIN apps a ON a.id = p.app_id"

func scanPreview(sc interface{ Scan(...any) error }) (Preview, error) {
	var p Preview
	var services string
	var created, pushed int64
	if err := sc.Scan(&p.ID, &p.Parent, &p.App, &p.Branch, &p.URL, &services, &created, &pushed, &p.PostdeployDone, &p.Predestroy); err != nil {
		return p, err
	}
	if services != "" {
		p.Services = strings.Split(services, ",")
	}
	p.CreatedAt, p.PushedAt = time.Unix(created, 0), time.Unix(pushed, 0)
	return p, nil
}

// Previews lists the previews of parent ("" is every app's), by parent
// and branch.
func (t *Tx) Previews(parent string) ([]Preview, error) {
	q := "SELECT " + previewCols + previewFrom
	var args []any
	if parent != "" {
		q += " WHERE pa.name = ?"
		args = append(args, parent)
	}
	rows, err := t.tx.QueryContext(t.ctx, q+" ORDER BY pa.name, p.branch", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Preview
	for rows.Next() {
		p, err := scanPreview(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Preview reads the preview of parent's branch, or ErrPreviewNotFound.
func (t *Tx) Preview(parent, branch string) (Preview, error) {
	p, err := scanPreview(t.tx.QueryRowContext(t.ctx, "SELECT "+previewCols+previewFrom+" WHERE pa.name = ? AND p.branch = ?", parent, branch))
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrPreviewNotFound
	}
	return p, err
}

// PreviewOf reads the preview whose app is appName, or ErrPreviewNotFound.
func (t *Tx) PreviewOf(appName string) (Preview, error) {
	p, err := scanPreview(t.tx.QueryRowContext(t.ctx, "SELECT "+previewCols+previewFrom+" WHERE a.name = ?", appName))
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrPreviewNotFound
	}
	return p, err
}

// SavePreview inserts or updates the preview of p.Parent's p.Branch (both
// apps must exist: ErrAppNotFound).
func (t *Tx) SavePreview(p Preview) error {
	parent, err := t.App(p.Parent)
	if err != nil {
		return err
	}
	a, err := t.App(p.App)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO previews (parent_id, app_id, branch, url, services, created_at, pushed_at, postdeploy_done, predestroy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (parent_id, branch) DO UPDATE SET app_id = excluded.app_id, url = excluded.url, services = excluded.services,
		pushed_at = excluded.pushed_at, postdeploy_done = excluded.postdeploy_done, predestroy = excluded.predestroy`,
		parent.ID, a.ID, p.Branch, p.URL, strings.Join(p.Services, ","), p.CreatedAt.Unix(), p.PushedAt.Unix(), p.PostdeployDone, p.Predestroy)
	return err
}

// DeletePreview forgets the preview of parent's branch; it reports whether
// there was one.
func (t *Tx) DeletePreview(parent, branch string) (bool, error) {
	res, err := t.exec("DELETE FROM previews WHERE branch = ? AND parent_id = (SELECT id FROM apps WHERE name = ?)", branch, parent)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
