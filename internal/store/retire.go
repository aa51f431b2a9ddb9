package store

import "time"

// Retiring is an old container waiting to be drained and removed after the
// switch that replaced it.
type Retiring struct {
	App         string
	ContainerID string
	Name        string
	// Addr is the proxy target to drain ("" for one that took no traffic).
	Addr     string
	RetireAt time.Time
}

// QueueRetiring records containers of a to retire (again: the time and
// address of one already queued are updated).
func (t *Tx) QueueRetiring(a App, rs []Retiring) error {
	for _, r := range rs {
		_, err := t.exec(`INSERT INTO retire_queue (app_id, container_id, name, addr, retire_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (app_id, container_id) DO UPDATE SET name = excluded.name, addr = excluded.addr, retire_at = excluded.retire_at`,
			a.ID, r.ContainerID, r.Name, r.Addr, r.RetireAt.Unix())
		if err != nil {
			return err
		}
	}
	return nil
}

// RetireQueue returns the containers waiting to retire, of every app,
// soonest first.
func (t *Tx) RetireQueue() ([]Retiring, error) {
	return t.retiring("")
}

// RetiringOf returns the containers of app a waiting to retire.
func (t *Tx) RetiringOf(a App) ([]Retiring, error) {
	return t.retiring(a.Name)
}

func (t *Tx) retiring(app string) ([]Retiring, error) {
	q := `SELECT apps.name, q.container_id, q.name, q.addr, q.retire_at FROM retire_queue q JOIN apps ON apps.id = q.app_id`
	var args []any
	if app != "" {
		q += " WHERE apps.name = ?"
		args = append(args, app)
	}
	return queryRows(t, func(row scanner) (Retiring, error) {
		var r Retiring
		var at int64
		err := row.Scan(&r.App, &r.ContainerID, &r.Name, &r.Addr, &at)
		r.RetireAt = time.Unix(at, 0)
		return r, err
	}, q+" ORDER BY q.retire_at, q.id", args...)
}

// Retired removes a container from the retire queue (it is gone).
func (t *Tx) Retired(containerID string) error {
	_, err := t.exec("DELETE FROM retire_queue WHERE container_id = ?", containerID)
	return err
}
