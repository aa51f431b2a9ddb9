package store

import (
	"database/sql"
	"errors"
	"strings"
	"time"
)

// ErrNotificationTargetNotFound is returned for a notification target
// name that is not stored.
var ErrNotificationTargetNotFound = errors.New("notification target not found")

// ErrNotificationTargetExists is returned when a target's name is taken.
var ErrNotificationTargetExists = errors.New("notification target exists")

// NotificationTarget is a webhook told of events (notifications:add), with
// the outcome of its last delivery.
type NotificationTarget struct {
	ID     int64
	Name   string
	URL    string
	Format string
	// Events are the event names it is told of; empty: every event.
	Events []string
	// App limits it to one app's events; "" is every app's.
	App       string
	CreatedAt time.Time
	Last      DeliveryResult
}

// DeliveryResult is the outcome of a delivery to a target; the zero value
// is "none yet".
type DeliveryResult struct {
	At     time.Time
	Event  string
	Status int    // the receiver's last HTTP status; 0 when it never answered
	Error  string // "" when delivered
	Tries  int
}

const targetCols = "t.id, t.name, t.url, t.format, t.events, COALESCE(a.name, ''), t.created_at, t.last_at, t.last_event, t.last_status, t.last_error, t.last_tries"

// AddNotificationTarget stores a new target (its App, if any, must exist:
// ErrAppNotFound); a taken name is ErrNotificationTargetExists.
func (t *Tx) AddNotificationTarget(n NotificationTarget) (NotificationTarget, error) {
	var appID any
	if n.App != "" {
		a, err := t.App(n.App)
		if err != nil {
			return n, err
		}
		appID = a.ID
	}
	var exists int
	if err := t.tx.QueryRowContext(t.ctx, "SELECT COUNT(*) FROM notification_targets WHERE name = ?", n.Name).Scan(&exists); err != nil {
		return n, err
	}
	if exists > 0 {
		return n, ErrNotificationTargetExists
	}
	res, err := t.exec("INSERT INTO notification_targets (name, url, format, events, app_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		n.Name, n.URL, n.Format, strings.Join(n.Events, ","), appID, n.CreatedAt.Unix())
	if err != nil {
		return n, err
	}
	n.ID, err = res.LastInsertId()
	return n, err
}

// NotificationTargets lists every target, by name.
func (t *Tx) NotificationTargets() ([]NotificationTarget, error) {
	return queryRows(t, scanTarget, "SELECT "+targetCols+" FROM notification_targets t LEFT JOIN apps a ON a.id = t.app_id ORDER BY t.name")
}

// NotificationTarget returns the target named name, or
// ErrNotificationTargetNotFound.
func (t *Tx) NotificationTarget(name string) (NotificationTarget, error) {
	n, err := scanTarget(t.tx.QueryRowContext(t.ctx, "SELECT "+targetCols+" FROM notification_targets t LEFT JOIN apps a ON a.id = t.app_id WHERE t.name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return n, ErrNotificationTargetNotFound
	}
	return n, err
}

// RemoveNotificationTarget deletes a target, or says
// ErrNotificationTargetNotFound.
func (t *Tx) RemoveNotificationTarget(name string) error {
	res, err := t.exec("DELETE FROM notification_targets WHERE name = ?", name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = ErrNotificationTargetNotFound
		}
		return err
	}
	return nil
}

// SetNotificationResult records the outcome of the last delivery to the
// target with the given ID (a target removed meanwhile is left alone).
func (t *Tx) SetNotificationResult(id int64, r DeliveryResult) error {
	_, err := t.exec("UPDATE notification_targets SET last_at = ?, last_event = ?, last_status = ?, last_error = ?, last_tries = ? WHERE id = ?",
		r.At.UnixNano(), r.Event, r.Status, r.Error, r.Tries, id)
	return err
}

func scanTarget(row scanner) (NotificationTarget, error) {
	var n NotificationTarget
	var events string
	var created, last int64
	err := row.Scan(&n.ID, &n.Name, &n.URL, &n.Format, &events, &n.App, &created, &last, &n.Last.Event, &n.Last.Status, &n.Last.Error, &n.Last.Tries)
	if err != nil {
		return n, err
	}
	if events != "" {
		n.Events = strings.Split(events, ",")
	}
	n.CreatedAt = time.Unix(created, 0)
	if last != 0 {
		n.Last.At = time.Unix(0, last)
	}
	return n, nil
}
