package store

import (
	"errors"
	"testing"
	"time"
)

func TestBackupCountsAndDrills(t *testing.T) {
	s, _ := openTest(t)
	var svc Service
	mustTx(t, s, func(tx *Tx) (err error) {
		svc, err = tx.CreateService(Service{Kind: "postgres", Name: "db", Image: "postgres:17", Password: "p", CreatedAt: time.Unix(1, 0)})
		return err
	})
	mustTx(t, s, func(tx *Tx) error {
		if err := tx.SetBackupScheduleVerify(svc, true); !errors.Is(err, ErrNoBackupSchedule) {
			t.Errorf("verify without a schedule: %v", err)
		}
		if err := tx.SetBackupSchedule(BackupSchedule{Service: svc, Schedule: "@daily", Dir: "/b", Keep: 7, CreatedAt: time.Unix(5, 0)}); err != nil {
			return err
		}
		if v, err := tx.BackupScheduleVerify(svc); err != nil || v {
			t.Errorf("verify before set = %v, %v", v, err)
		}
		if err := tx.SetBackupScheduleVerify(svc, true); err != nil {
			return err
		}
		// Replacing the schedule keeps the setting until it is set again.
		if err := tx.SetBackupSchedule(BackupSchedule{Service: svc, Schedule: "@hourly", Dir: "/b", Keep: 7, CreatedAt: time.Unix(6, 0)}); err != nil {
			return err
		}
		if v, err := tx.BackupScheduleVerify(svc); err != nil || !v {
			t.Errorf("verify = %v, %v", v, err)
		}
		for _, r := range []BackupRun{
			{ServiceID: svc.ID, OK: true, File: "/b/one"},
			{ServiceID: svc.ID, OK: false, Error: "boom"},
			{ServiceID: svc.ID, OK: true, File: "/b/two"},
		} {
			if err := tx.AddBackupRun(r); err != nil {
				return err
			}
		}
		if err := tx.SetBackupCounts(svc, "/b/two", map[string]int64{"public.t": 3, `public."We ird"`: 0}); err != nil {
			return err
		}
		c, ok, err := tx.BackupCounts(svc, "/b/two")
		if err != nil || !ok || len(c) != 2 || c["public.t"] != 3 {
			t.Errorf("BackupCounts(two) = %v %v %v", c, ok, err)
		}
		if c, ok, err := tx.BackupCounts(svc, "/b/one"); err != nil || ok || c != nil {
			t.Errorf("BackupCounts(one) = %v %v %v", c, ok, err)
		}
		if _, ok, err := tx.BackupCounts(svc, "/b/none"); err != nil || ok {
			t.Errorf("BackupCounts(none) = %v %v", ok, err)
		}
		if _, ok, err := tx.LastBackupDrill(svc); err != nil || ok {
			t.Errorf("LastBackupDrill before any = %v %v", ok, err)
		}
		for i := range 103 {
			d := BackupDrill{ServiceID: svc.ID, At: time.Unix(int64(i), 7), File: "/b/two", OK: i < 102, Tables: 2, Rows: 3, Compared: true, Error: "x"}
			if err := tx.AddBackupDrill(d); err != nil {
				return err
			}
		}
		d, ok, err := tx.LastBackupDrill(svc)
		if err != nil || !ok || d.OK || d.At.UnixNano() != 102e9+7 || d.File != "/b/two" || d.Tables != 2 || d.Rows != 3 || !d.Compared || d.Error != "x" {
			t.Errorf("LastBackupDrill = %+v %v %v", d, ok, err)
		}
		var n int
		if err := tx.tx.QueryRow("SELECT COUNT(*) FROM service_backup_drills WHERE service_id = ?", svc.ID).Scan(&n); err != nil || n != backupDrillsKept {
			t.Errorf("drills kept = %d, %v", n, err)
		}
		return nil
	})
}
