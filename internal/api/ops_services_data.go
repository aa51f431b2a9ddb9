package api

import "time"

// ServiceClone copies a service's data into a new service. New holds the
// new service's name and create options (its Kind is the source's); an
// empty Image or ImageVersion takes the source's.
type ServiceClone struct {
	ServiceRef
	New ServiceCreate `json:"new"`
}

// ServiceBackup writes one backup of a service into Dir: an absolute
// directory on the server, or a bucket of the S3 storage set with
// backup-auth (BUCKET, BUCKET/PREFIX or s3://BUCKET[/PREFIX]). UseIAM takes
// the S3 credentials from the host's IAM role instead. Keep, when set,
// prunes the target to the service's newest Keep backups afterwards.
type ServiceBackup struct {
	ServiceRef
	Dir    string `json:"dir"`
	UseIAM bool   `json:"use_iam,omitempty"`
	Keep   *int   `json:"keep,omitempty"`
}

// ServiceBackupAuth sets the S3 credentials of a service's backups, in
// Dokku's order. Region, SignatureVersion and EndpointURL are optional
// (us-east-1, s3v4, AWS).
type ServiceBackupAuth struct {
	ServiceRef
	AccessKeyID      string `json:"access_key_id"`
	SecretAccessKey  string `json:"secret_access_key"`
	Region           string `json:"region,omitempty"`
	SignatureVersion string `json:"signature_version,omitempty"`
	EndpointURL      string `json:"endpoint_url,omitempty"`
}

// ServiceBackupEncryption encrypts a service's backups with age: a
// passphrase, or age recipients (public keys, age1...); not both.
type ServiceBackupEncryption struct {
	ServiceRef
	Passphrase string   `json:"passphrase,omitempty"`
	Recipients []string `json:"recipients,omitempty"`
}

// BackupChange says whether a setting was there to change.
type BackupChange struct {
	Changed bool `json:"changed"`
}

// BackupFile is one backup file.
type BackupFile struct {
	Name string    `json:"name"`
	Path string    `json:"path"`
	Size int64     `json:"size"`
	Time time.Time `json:"time"` // when the backup was taken (from its name)
	// SHA256 is the hex checksum of the stored bytes, recorded and
	// verified after upload (S3 targets).
	SHA256    string `json:"sha256,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
}

// ServiceBackupSchedule schedules a service's backups. Schedule is a
// standard 5-field cron spec or a descriptor (@daily, @every 1h); Keep is
// how many of the newest backups a scheduled run keeps (nil: the default,
// 7; 0: all). Verify runs a restore drill after each scheduled backup.
type ServiceBackupSchedule struct {
	ServiceRef
	Schedule string `json:"schedule"`
	Dir      string `json:"dir"`
	Keep     *int   `json:"keep,omitempty"`
	Verify   bool   `json:"verify,omitempty"`
}

// BackupScheduleInfo is a service's backup schedule.
type BackupScheduleInfo struct {
	Schedule string `json:"schedule"`
	Dir      string `json:"dir"`
	Keep     int    `json:"keep"`
	Verify   bool   `json:"verify,omitempty"`
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
// scheduled directory or bucket (as backup-list shows it), an absolute
// path, or s3://BUCKET[/PREFIX]/NAME. An encrypted backup is decrypted with
// Passphrase or Identity (an age secret key) when given, else with the
// service's own encryption passphrase.
type ServiceBackupRestore struct {
	ServiceRef
	File       string `json:"file"`
	Passphrase string `json:"passphrase,omitempty"`
	Identity   string `json:"identity,omitempty"`
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
	// Off-site targets and encryption (docs/data-safety.md).
	ServicesBackupAuth            = Op[ServiceBackupAuth, Empty]{"services.backup-auth", AdminOnly}
	ServicesBackupDeauth          = Op[ServiceRef, BackupChange]{"services.backup-deauth", AdminOnly}
	ServicesBackupSetEncryption   = Op[ServiceBackupEncryption, Empty]{"services.backup-set-encryption", AdminOnly}
	ServicesBackupUnsetEncryption = Op[ServiceRef, BackupChange]{"services.backup-unset-encryption", AdminOnly}
)
