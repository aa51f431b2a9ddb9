package store

import "time"

// Event is one change in the audit log.
type Event struct {
	ID       int64
	At       time.Time
	Who      string // root, key:NAME, token:NAME
	Op       string
	App      string
	Args     string // JSON, secret values masked
	OK       bool
	Error    string
	Duration time.Duration
}

// AddEvent appends an event to the audit log.
func (t *Tx) AddEvent(e Event) error {
	_, err := t.exec("INSERT INTO events (at, who, op, app, args, ok, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		e.At.UnixMilli(), e.Who, e.Op, e.App, e.Args, e.OK, e.Error, e.Duration.Milliseconds())
	return err
}

// Events lists the newest limit events, newest first: of one app, or of
// every app when app is "".
func (t *Tx) Events(app string, limit int) ([]Event, error) {
	q := "SELECT id, at, who, op, app, args, ok, error, duration_ms FROM events"
	args := []any{}
	if app != "" {
		q += " WHERE app = ?"
		args = append(args, app)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	return queryRows(t, func(row scanner) (Event, error) {
		var e Event
		var at, ms int64
		err := row.Scan(&e.ID, &at, &e.Who, &e.Op, &e.App, &e.Args, &e.OK, &e.Error, &ms)
		e.At, e.Duration = time.UnixMilli(at), time.Duration(ms)*time.Millisecond
		return e, err
	}, q, args...)
}

// PruneEvents keeps the newest keep events and deletes the older ones.
func (t *Tx) PruneEvents(keep int) error {
	_, err := t.exec("DELETE FROM events WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM events) - ?", keep)
	return err
}
