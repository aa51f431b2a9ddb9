package api

import "time"

// ServiceClone copies a service's data into a new service. New holds the
// new service's name and create options (its Kind is the source's); an
// empty Image or ImageVersion takes the source's.
type ServiceClone struct {
	ServiceRef
	New ServiceCreate `json:"new"`
}

// ServiceBackup writes one backup of a service into Dir, an absolute
// directory on the server.
type ServiceBackup struct {
	ServiceRef
	Dir string `json:"dir"`
}

// BackupFile is one backup file.
type BackupFile struct {
	Name string    `json:"name"`
	Path string    `json:"path"`
	Size int64     `json:"size"`
	Time time.Time `json:"time"` // when the backup was taken (from its name)
}

// ServiceBackupSchedule schedules a service's backups. Schedule is a
// standard 5-field cron spec or a descriptor (@daily, @every 1h); Keep is
// how many of the newest backups a scheduled run keeps (nil: the default,
// 7; 0: all).
type ServiceBackupSchedule struct {
	ServiceRef
	Schedule string `json:"schedule"`
	Dir      string `json:"dir"`
	Keep     *int   `json:"keep,omitempty"`
}

// BackupScheduleInfo is a service's backup schedule.
type BackupScheduleInfo struct {
	Schedule string `json:"schedule"`
	Dir      string `json:"dir"`
	Keep     int    `json:"keep"`
}

// BackupUnscheduleResult says whether there was a schedule to remove.
type BackupUnscheduleResult struct {
	Removed bool `json:"removed"`
}

// ServiceBackupList lists a service's backups in Dir ("" is the
// scheduled directory).
type ServiceBackupList struct {
	ServiceRef
	Dir string `json:"dir,omitempty"`
}

// BackupList is a service's backups in a directory, oldest first.
type BackupList struct {
	Dir   string       `json:"dir"`
	Files []BackupFile `json:"files"`
}

// ServiceBackupRestore restores a service from a backup file: a name in the
// scheduled directory (as backup-list shows it) or an absolute path.
type ServiceBackupRestore struct {
	ServiceRef
	File string `json:"file"`
}

// Service data operations. Export streams the dump on the session's
// stdout (nothing else goes there); import reads it from stdin.
var (
	ServicesExport            = SessionOp[ServiceRef, Empty]{"services.export", AdminOnly}
	ServicesImport            = SessionOp[ServiceRef, Empty]{"services.import", AdminOnly}
	ServicesClone             = Op[ServiceClone, ServiceInfo]{"services.clone", AdminOnly}
	ServicesBackup            = Op[ServiceBackup, BackupFile]{"services.backup", AdminOnly}
	ServicesBackupSchedule    = Op[ServiceBackupSchedule, BackupScheduleInfo]{"services.backup-schedule", AdminOnly}
	ServicesBackupUnschedule  = Op[ServiceRef, BackupUnscheduleResult]{"services.backup-unschedule", AdminOnly}
	ServicesBackupScheduleCat = Op[ServiceRef, BackupScheduleInfo]{"services.backup-schedule-cat", AdminOnly}
	ServicesBackupList        = Op[ServiceBackupList, BackupList]{"services.backup-list", AdminOnly}
	ServicesBackupRestore     = Op[ServiceBackupRestore, Empty]{"services.backup-restore", AdminOnly}
)
