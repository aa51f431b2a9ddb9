package api

import "time"

// ServiceRef names a service of a kind (postgres, redis).
type ServiceRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// ServiceCreate creates a service.
type ServiceCreate struct {
	ServiceRef
	Image        string `json:"image,omitempty"`
	ImageVersion string `json:"image_version,omitempty"`
	Password     string `json:"password,omitempty"`
}

// ServiceInfo describes a service.
type ServiceInfo struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Image     string    `json:"image"`
	Status    string    `json:"status"`
	DSN       string    `json:"dsn"`
	DataDir   string    `json:"data_dir"`
	Links     []string  `json:"links"`
	CreatedAt time.Time `json:"created_at"`
}

// ServiceList lists services of a kind.
type ServiceList struct {
	Services []ServiceInfo `json:"services"`
}

// ServiceLink links or unlinks a service and an app.
type ServiceLink struct {
	ServiceRef
	App       string `json:"app"`
	Alias     string `json:"alias,omitempty"`
	NoRestart bool   `json:"no_restart,omitempty"`
}

// ServiceConnect opens a shell in a service.
type ServiceConnect struct {
	ServiceRef
	TTY bool `json:"tty,omitempty"`
}

// ServiceLinkResult names the config var of a link.
type ServiceLinkResult struct {
	Var string `json:"var"`
}

// Service operations.
var (
	ServicesCreate  = Op[ServiceCreate, ServiceInfo]{"services.create"}
	ServicesDestroy = Op[ServiceRef, Empty]{"services.destroy"}
	ServicesList    = Op[ServiceRef, ServiceList]{"services.list"}
	ServicesInfo    = Op[ServiceRef, ServiceInfo]{"services.info"}
	ServicesLink    = Op[ServiceLink, ServiceLinkResult]{"services.link"}
	ServicesUnlink  = Op[ServiceLink, ServiceLinkResult]{"services.unlink"}
	ServicesConnect = SessionOp[ServiceConnect, RunResult]{"services.connect"}
)
