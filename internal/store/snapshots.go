package store

import (
	"fmt"
	"time"
)

// ReleaseSnapshot is a copy of one database linked to an app, taken before
// a release's predeploy or release command ran.
type ReleaseSnapshot struct {
	ID      int64
	AppID   int64
	Release int // the release's number
	Kind    string
	Service string
	// File is the snapshot on the host.
	File      string
	Bytes     int64
	Took      time.Duration
	CreatedAt time.Time
}

// AddReleaseSnapshot records a snapshot taken for one of a's releases.
func (t *Tx) AddReleaseSnapshot(a App, s ReleaseSnapshot) (ReleaseSnapshot, error) {
	s.AppID = a.ID
	res, err := t.exec("INSERT INTO release_snapshots (app_id, release, service_kind, service_name, file, bytes, took_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		a.ID, s.Release, s.Kind, s.Service, s.File, s.Bytes, s.Took.Milliseconds(), s.CreatedAt.UnixMilli())
	if err != nil {
		return s, fmt.Errorf("record a snapshot of %s: %w", a.Name, err)
	}
	s.ID, err = res.LastInsertId()
	return s, err
}

// ReleaseSnapshots returns a's snapshots, oldest release first.
func (t *Tx) ReleaseSnapshots(a App) ([]ReleaseSnapshot, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT id, app_id, release, service_kind, service_name, file, bytes, took_ms, created_at FROM release_snapshots WHERE app_id = ? ORDER BY release, id", a.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReleaseSnapshot
	for rows.Next() {
		var s ReleaseSnapshot
		var took, created int64
		if err := rows.Scan(&s.ID, &s.AppID, &s.Release, &s.Kind, &s.Service, &s.File, &s.Bytes, &took, &created); err != nil {
			return nil, err
		}
		s.Took, s.CreatedAt = time.Duration(took)*time.Millisecond, time.UnixMilli(created)
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteReleaseSnapshot forgets one snapshot (its file is the caller's).
func (t *Tx) DeleteReleaseSnapshot(id int64) error {
	_, err := t.exec("DELETE FROM release_snapshots WHERE id = ?", id)
	return err
}
