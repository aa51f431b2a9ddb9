package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// BackupDrill is the outcome of one restore drill of a service's backup
// (KIND:backup-verify): the backup restored into a throw-away container
// and its row counts compared with those recorded at backup time.
type BackupDrill struct {
	ServiceID int64
	At        time.Time
	File      string
	Scheduled bool
	OK        bool
	Tables    int   // tables compared
	Rows      int64 // rows restored
	Compared  bool  // counts were recorded with the backup
	Error     string
}

// backupDrillsKept bounds the drill history kept per service.
const backupDrillsKept = 100

// SetBackupCounts records the row counts of a backup (by table) with the
// service's latest run that wrote file.
func (t *Tx) SetBackupCounts(s Service, file string, counts map[string]int64) error {
	b, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	_, err = t.exec(`UPDATE service_backup_runs SET counts = ? WHERE id =
		(SELECT MAX(id) FROM service_backup_runs WHERE service_id = ? AND file = ? AND ok = 1)`, string(b), s.ID, file)
	return err
}

// BackupCounts returns the row counts recorded with the backup file of a
// service; ok is false when none were (an older backup, another host's, or
// one whose run left the history).
func (t *Tx) BackupCounts(s Service, file string) (counts map[string]int64, ok bool, err error) {
	var raw string
	err = t.tx.QueryRowContext(t.ctx, "SELECT counts FROM service_backup_runs WHERE service_id = ? AND file = ? AND ok = 1 ORDER BY id DESC LIMIT 1", s.ID, file).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && raw == "") {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := json.Unmarshal([]byte(raw), &counts); err != nil {
		return nil, false, err
	}
	return counts, true, nil
}

// SetBackupScheduleVerify sets whether a service's schedule runs a drill
// after each backup; the schedule must exist (SetBackupSchedule first).
func (t *Tx) SetBackupScheduleVerify(s Service, verify bool) error {
	res, err := t.exec("UPDATE service_backup_schedules SET verify = ? WHERE service_id = ?", verify, s.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNoBackupSchedule
	}
	return err
}

// BackupScheduleVerify says whether a service's schedule runs a drill
// after each backup (false without a schedule).
func (t *Tx) BackupScheduleVerify(s Service) (bool, error) {
	var v bool
	err := t.tx.QueryRowContext(t.ctx, "SELECT verify FROM service_backup_schedules WHERE service_id = ?", s.ID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return v, err
}

// AddBackupDrill records a drill; a service keeps its last 100.
func (t *Tx) AddBackupDrill(d BackupDrill) error {
	if _, err := t.exec("INSERT INTO service_backup_drills (service_id, at, file, scheduled, ok, tables, rows, compared, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ServiceID, d.At.UnixNano(), d.File, d.Scheduled, d.OK, d.Tables, d.Rows, d.Compared, d.Error); err != nil {
		return err
	}
	_, err := t.exec(`DELETE FROM service_backup_drills WHERE service_id = ? AND id NOT IN
		(SELECT id FROM service_backup_drills WHERE service_id = ? ORDER BY id DESC LIMIT ?)`, d.ServiceID, d.ServiceID, backupDrillsKept)
	return err
}

// LastBackupDrill returns a service's latest drill; ok is false when it
// has none.
func (t *Tx) LastBackupDrill(s Service) (d BackupDrill, ok bool, err error) {
	d.ServiceID = s.ID
	var at int64
	err = t.tx.QueryRowContext(t.ctx, "SELECT at, file, scheduled, ok, tables, rows, compared, error FROM service_backup_drills WHERE service_id = ? ORDER BY id DESC LIMIT 1", s.ID).
		Scan(&at, &d.File, &d.Scheduled, &d.OK, &d.Tables, &d.Rows, &d.Compared, &d.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return BackupDrill{}, false, nil
	}
	if err != nil {
		return BackupDrill{}, false, err
	}
	d.At = time.Unix(0, at)
	return d, true, nil
}
