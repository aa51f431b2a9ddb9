package api

import "time"

// ServiceBackupVerify runs a restore drill (KIND:backup-verify): a backup
// restored into a throw-away container, its row counts compared with those
// recorded at backup time. File names the backup as backup-restore takes it
// ("" is the newest in the scheduled directory or bucket); Passphrase and
// Identity decrypt an encrypted one as backup-restore does.
type ServiceBackupVerify struct {
	ServiceRef
	File       string `json:"file,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
	Identity   string `json:"identity,omitempty"`
}

// BackupDrill is the outcome of a restore drill.
type BackupDrill struct {
	At        time.Time `json:"at"`
	File      string    `json:"file"`
	Scheduled bool      `json:"scheduled,omitempty"`
	OK        bool      `json:"ok"`
	// Compared says whether the backup had counts recorded to compare
	// with (backups taken before Berth recorded them have none).
	Compared bool   `json:"compared"`
	Tables   int    `json:"tables"`
	Rows     int64  `json:"rows"`
	Error    string `json:"error,omitempty"`
	// Counts are the tables compared (backup-verify's answer; info leaves
	// them out).
	Counts []TableCount `json:"counts,omitempty"`
}

// TableCount is one table's rows: recorded at backup time and found after
// the restore; -1 when the table is missing on that side.
type TableCount struct {
	Table    string `json:"table"`
	Recorded int64  `json:"recorded"`
	Restored int64  `json:"restored"`
}

// Restore drills (docs/data-safety.md).
var ServicesBackupVerify = Op[ServiceBackupVerify, BackupDrill]{"services.backup-verify", AdminOnly}
