package store

import (
	"database/sql"
	"errors"
	"time"
)

// ErrNoBackupSchedule is returned for a service without a backup schedule.
var ErrNoBackupSchedule = errors.New("no backup schedule")

// BackupSchedule is a service's scheduled backups: when (a cron spec), where
// (a directory on the host) and how many of the newest backups are kept.
type BackupSchedule struct {
	Service   Service
	Schedule  string
	Dir       string
	Keep      int // 0 keeps all
	CreatedAt time.Time
}

// BackupRun is the outcome of one backup of a service.
type BackupRun struct {
	ServiceID  int64
	StartedAt  time.Time
	FinishedAt time.Time
	Scheduled  bool
	OK         bool
	File       string // the file written; "" when the run failed
	Size       int64
	Error      string
}

// backupRunsKept bounds the run history kept per service.
const backupRunsKept = 100

// SetBackupSchedule creates or replaces a service's backup schedule.
func (t *Tx) SetBackupSchedule(b BackupSchedule) error {
	_, err := t.exec(`INSERT INTO service_backup_schedules (service_id, schedule, dir, keep, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (service_id) DO UPDATE SET schedule = excluded.schedule, dir = excluded.dir, keep = excluded.keep, created_at = excluded.created_at`,
		b.Service.ID, b.Schedule, b.Dir, b.Keep, b.CreatedAt.Unix())
	return err
}

// BackupSchedule returns a service's backup schedule, or ErrNoBackupSchedule.
func (t *Tx) BackupSchedule(s Service) (BackupSchedule, error) {
	b := BackupSchedule{Service: s}
	var created int64
	err := t.tx.QueryRowContext(t.ctx, "SELECT schedule, dir, keep, created_at FROM service_backup_schedules WHERE service_id = ?", s.ID).
		Scan(&b.Schedule, &b.Dir, &b.Keep, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return b, ErrNoBackupSchedule
	}
	b.CreatedAt = time.Unix(created, 0)
	return b, err
}

// DeleteBackupSchedule removes a service's backup schedule; it reports
// whether there was one.
func (t *Tx) DeleteBackupSchedule(s Service) (bool, error) {
	res, err := t.exec("DELETE FROM service_backup_schedules WHERE service_id = ?", s.ID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// BackupSchedules lists every service's backup schedule, by kind and name.
func (t *Tx) BackupSchedules() ([]BackupSchedule, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+serviceCols+", b.schedule, b.dir, b.keep, b.created_at FROM service_backup_schedules b JOIN services s ON s.id = b.service_id ORDER BY s.kind, s.name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BackupSchedule
	for rows.Next() {
		var b BackupSchedule
		var created int64
		if b.Service, err = scanService(rows, &b.Schedule, &b.Dir, &b.Keep, &created); err != nil {
			return nil, err
		}
		b.CreatedAt = time.Unix(created, 0)
		out = append(out, b)
	}
	return out, rows.Err()
}

// AddBackupRun records the outcome of a backup; a service keeps its last
// 100 runs.
func (t *Tx) AddBackupRun(r BackupRun) error {
	if _, err := t.exec("INSERT INTO service_backup_runs (service_id, started_at, finished_at, scheduled, ok, file, size, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		r.ServiceID, r.StartedAt.UnixNano(), r.FinishedAt.UnixNano(), r.Scheduled, r.OK, r.File, r.Size, r.Error); err != nil {
		return err
	}
	_, err := t.exec(`DELETE FROM service_backup_runs WHERE service_id = ? AND id NOT IN
		(SELECT id FROM service_backup_runs WHERE service_id = ? ORDER BY id DESC LIMIT ?)`, r.ServiceID, r.ServiceID, backupRunsKept)
	return err
}

// LastBackupRuns returns a service's last successful and last failed
// backup runs (zero BackupRuns when there are none).
func (t *Tx) LastBackupRuns(s Service) (ok, failed BackupRun, err error) {
	get := func(want bool) (BackupRun, error) {
		r := BackupRun{ServiceID: s.ID}
		var started, finished int64
		err := t.tx.QueryRowContext(t.ctx, "SELECT started_at, finished_at, scheduled, ok, file, size, error FROM service_backup_runs WHERE service_id = ? AND ok = ? ORDER BY id DESC LIMIT 1", s.ID, want).
			Scan(&started, &finished, &r.Scheduled, &r.OK, &r.File, &r.Size, &r.Error)
		if errors.Is(err, sql.ErrNoRows) {
			return BackupRun{}, nil
		}
		r.StartedAt, r.FinishedAt = time.Unix(0, started), time.Unix(0, finished)
		return r, err
	}
	if ok, err = get(true); err != nil {
		return ok, failed, err
	}
	failed, err = get(false)
	return ok, failed, err
}
