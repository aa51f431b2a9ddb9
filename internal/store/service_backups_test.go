package store

import (
	"errors"
	"testing"
	"time"
)

func TestBackupSchedulesAndRuns(t *testing.T) {
	s, _ := openTest(t)
	var svc, other Service
	mustTx(t, s, func(tx *Tx) (err error) {
		if svc, err = tx.CreateService(Service{Kind: "postgres", Name: "db", Image: "postgres:17", Password: "p", CreatedAt: time.Unix(1, 0)}); err != nil {
			return err
		}
		other, err = tx.CreateService(Service{Kind: "redis", Name: "cache", Image: "redis:7", Password: "p", CreatedAt: time.Unix(1, 0)})
		return err
	})
	mustTx(t, s, func(tx *Tx) error {
		if _, err := tx.BackupSchedule(svc); !errors.Is(err, ErrNoBackupSchedule) {
			t.Errorf("BackupSchedule before any: %v", err)
		}
		if err := tx.SetBackupSchedule(BackupSchedule{Service: svc, Schedule: "0 3 * * *", Dir: "/b", Keep: 7, CreatedAt: time.Unix(5, 0)}); err != nil {
			return err
		}
		// Replacing keeps one row.
		if err := tx.SetBackupSchedule(BackupSchedule{Service: svc, Schedule: "@daily", Dir: "/c", Keep: 2, CreatedAt: time.Unix(6, 0)}); err != nil {
			return err
		}
		b, err := tx.BackupSchedule(svc)
		if err != nil || b.Schedule != "@daily" || b.Dir != "/c" || b.Keep != 2 {
			t.Errorf("BackupSchedule = %+v, %v", b, err)
		}
		all, err := tx.BackupSchedules()
		if err != nil || len(all) != 1 || all[0].Service.Name != "db" || all[0].Schedule != "@daily" {
			t.Errorf("BackupSchedules = %+v, %v", all, err)
		}
		for i := range 105 {
			r := BackupRun{ServiceID: svc.ID, StartedAt: time.Unix(int64(i), 0), FinishedAt: time.Unix(int64(i), 500), OK: i%2 == 0, Error: "boom"}
			if err := tx.AddBackupRun(r); err != nil {
				return err
			}
		}
		if err := tx.AddBackupRun(BackupRun{ServiceID: other.ID, StartedAt: time.Unix(200, 0), FinishedAt: time.Unix(200, 0), OK: true}); err != nil {
			return err
		}
		ok, failed, err := tx.LastBackupRuns(svc)
		if err != nil || ok.StartedAt.Unix() != 104 || failed.StartedAt.Unix() != 103 || failed.Error != "boom" || failed.FinishedAt.UnixNano() != 103e9+500 {
			t.Errorf("LastBackupRuns = %+v %+v %v", ok, failed, err)
		}
		var n int
		if err := tx.tx.QueryRow("SELECT COUNT(*) FROM service_backup_runs WHERE service_id = ?", svc.ID).Scan(&n); err != nil || n != backupRunsKept {
			t.Errorf("runs kept = %d, %v", n, err)
		}
		if ok, failed, err := tx.LastBackupRuns(Service{ID: 999}); err != nil || !ok.StartedAt.IsZero() || !failed.StartedAt.IsZero() {
			t.Errorf("no runs: %+v %+v %v", ok, failed, err)
		}
		removed, err := tx.DeleteBackupSchedule(svc)
		if err != nil || !removed {
			t.Errorf("DeleteBackupSchedule = %v, %v", removed, err)
		}
		if removed, err := tx.DeleteBackupSchedule(svc); err != nil || removed {
			t.Errorf("DeleteBackupSchedule again = %v, %v", removed, err)
		}
		// A deleted service takes its schedule and runs with it.
		if err := tx.SetBackupSchedule(BackupSchedule{Service: other, Schedule: "@daily", Dir: "/c", CreatedAt: time.Unix(6, 0)}); err != nil {
			return err
		}
		if err := tx.DeleteService(other); err != nil {
			return err
		}
		if err := tx.tx.QueryRow("SELECT (SELECT COUNT(*) FROM service_backup_runs WHERE service_id = ?) + (SELECT COUNT(*) FROM service_backup_schedules WHERE service_id = ?)", other.ID, other.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("rows left after DeleteService = %d, %v", n, err)
		}
		return nil
	})
}
