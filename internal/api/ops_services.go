package api

import "time"

// ServiceRef names a service of a kind (postgres, redis).
type ServiceRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// ServiceCreate creates a service. Image and ImageVersion override the
// defaults; Memory and ShmSize are sizes ("512", "512m", "1g"; a bare number
// of Memory is megabytes, as in Dokku).
type ServiceCreate struct {
	ServiceRef
	Image        string `json:"image,omitempty"`
	ImageVersion string `json:"image_version,omitempty"`
	Password     string `json:"password,omitempty"`
	CustomEnv    string `json:"custom_env,omitempty"`
	Memory       string `json:"memory,omitempty"`
	ShmSize      string `json:"shm_size,omitempty"`
}

// ServiceInfo describes a service.
type ServiceInfo struct {
	Kind         string        `json:"kind"`
	Name         string        `json:"name"`
	Image        string        `json:"image"`
	Version      string        `json:"version"`
	Status       string        `json:"status"`
	DSN          string        `json:"dsn"`
	ID           string        `json:"id"`
	InternalIP   string        `json:"internal_ip"`
	ServiceRoot  string        `json:"service_root"`
	ConfigDir    string        `json:"config_dir"`
	DataDir      string        `json:"data_dir"`
	ExposedPorts string        `json:"exposed_ports"`
	CustomEnv    string        `json:"custom_env"`
	Links        []string      `json:"links"`
	Backup       BackupSummary `json:"backup"`
	// Restores are the imports and backup restores, oldest first.
	Restores  []ServiceRestore `json:"restores,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
}

// ServiceRestore is one import or backup restore of a service's data.
type ServiceRestore struct {
	At time.Time `json:"at"`
	// Via is the command: "import" or "backup-restore", or "snapshot" (a
	// snapshot before a migration put back: docs/data-safety.md).
	Via string `json:"via"`
	// Source is the backup file restored, or "stdin" for an import.
	Source string `json:"source"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// BackupSummary is a service's backup state as `info` shows it.
type BackupSummary struct {
	Schedule   string    `json:"schedule,omitempty"`
	LastOK     time.Time `json:"last_ok,omitempty"`
	LastFailed time.Time `json:"last_failed,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	// Auth describes the S3 credentials set by backup-auth (endpoint,
	// region, signature; never the secret); "" when none.
	Auth string `json:"auth,omitempty"`
	// Encryption is "passphrase", "N age recipient(s)" or "".
	Encryption string `json:"encryption,omitempty"`
	// LastDrill is the latest restore drill (backup-verify), without its
	// counts; nil when there was none.
	LastDrill *BackupDrill `json:"last_drill,omitempty"`
}

// ServiceList lists services of a kind.
type ServiceList struct {
	Services []ServiceInfo `json:"services"`
}

// ServiceLink links, unlinks or promotes a service and an app.
type ServiceLink struct {
	ServiceRef
	App         string `json:"app"`
	Alias       string `json:"alias,omitempty"`
	QueryString string `json:"query_string,omitempty"`
	NoRestart   bool   `json:"no_restart,omitempty"`
}

// ServiceLinkResult names the config var of a link.
type ServiceLinkResult struct {
	Var string `json:"var"`
}

// ServiceConnect opens a client shell (psql, redis-cli) in a service, or,
// for enter, a command (default bash) in its container.
type ServiceConnect struct {
	ServiceRef
	Cmd []string `json:"cmd,omitempty"`
	TTY bool     `json:"tty,omitempty"`
}

// ServiceLogs asks for a service container's log.
type ServiceLogs struct {
	ServiceRef
	Tail bool `json:"tail,omitempty"`
	Num  int  `json:"num,omitempty"`
}

// ServiceExpose publishes a service's port on the host. Addr is "",
// "PORT", "ADDR:PORT" or "ADDR" ("" and a missing port choose a free port;
// a missing address is 127.0.0.1).
type ServiceExpose struct {
	ServiceRef
	Addr string `json:"addr,omitempty"`
}

// AppServiceLinks lists the services linked to an app.
type AppServiceLinks struct {
	Links []AppServiceLink `json:"links"`
}

// AppServiceLink is one service linked to an app.
type AppServiceLink struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Var  string `json:"var"`
}

// AppServiceRef names an app and a service kind ("" is every kind).
type AppServiceRef struct {
	App  string `json:"app"`
	Kind string `json:"kind,omitempty"`
}

// ServiceUpgrade moves a service to another image (version).
type ServiceUpgrade struct {
	ServiceRef
	Image        string `json:"image,omitempty"`
	ImageVersion string `json:"image_version,omitempty"`
	RestartApps  bool   `json:"restart_apps,omitempty"`
}

// Service operations.
var (
	ServicesCreate   = Op[ServiceCreate, ServiceInfo]{"services.create", AdminOnly}
	ServicesDestroy  = Op[ServiceRef, Empty]{"services.destroy", AdminOnly}
	ServicesList     = Op[ServiceRef, ServiceList]{"services.list", AdminOnly}
	ServicesInfo     = Op[ServiceRef, ServiceInfo]{"services.info", AdminOnly}
	ServicesLink     = Op[ServiceLink, ServiceLinkResult]{"services.link", AdminOnly}
	ServicesUnlink   = Op[ServiceLink, ServiceLinkResult]{"services.unlink", AdminOnly}
	ServicesPromote  = Op[ServiceLink, ServiceLinkResult]{"services.promote", AdminOnly}
	ServicesAppLinks = Op[AppServiceRef, AppServiceLinks]{"services.app-links", AdminOnly}
	ServicesStart    = Op[ServiceRef, Empty]{"services.start", AdminOnly}
	ServicesStop     = Op[ServiceRef, Empty]{"services.stop", AdminOnly}
	ServicesRestart  = Op[ServiceRef, Empty]{"services.restart", AdminOnly}
	ServicesPause    = Op[ServiceRef, Empty]{"services.pause", AdminOnly}
	ServicesLogs     = Op[ServiceLogs, Empty]{"services.logs", AdminOnly}
	ServicesExpose   = Op[ServiceExpose, ServiceInfo]{"services.expose", AdminOnly}
	ServicesUnexpose = Op[ServiceRef, ServiceInfo]{"services.unexpose", AdminOnly}
	ServicesUpgrade  = Op[ServiceUpgrade, ServiceInfo]{"services.upgrade", AdminOnly}
	ServicesConnect  = SessionOp[ServiceConnect, RunResult]{"services.connect", AdminOnly}
	ServicesEnter    = SessionOp[ServiceConnect, RunResult]{"services.enter", AdminOnly}
)
