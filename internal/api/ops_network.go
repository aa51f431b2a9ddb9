package api

// User networks (`network:*`): Docker bridge networks Berth creates for apps
// that talk to each other, and the per-app settings that attach an app's
// containers to them.

// NetworkRef names a user network.
type NetworkRef struct {
	Name string `json:"name"`
}

// NetworkInfo describes a Docker network as `network:list` and
// `network:info` show it (Dokku's fields and JSON keys).
type NetworkInfo struct {
	CreatedAt    string            `json:"CreatedAt"`
	DokkuManaged bool              `json:"DokkuManaged"`
	Driver       string            `json:"Driver"`
	ID           string            `json:"ID"`
	Internal     bool              `json:"Internal"`
	IPv6         bool              `json:"IPv6"`
	Labels       map[string]string `json:"Labels"`
	Name         string            `json:"Name"`
	Scope        string            `json:"Scope"`
}

// NetworkList holds every network on the engine.
type NetworkList struct {
	Networks []NetworkInfo `json:"networks"`
}

// NetworkSet sets (or, with no Values, clears) a network property of an
// app or, with Global, of every app.
type NetworkSet struct {
	Scope
	Key    string   `json:"key"`
	Values []string `json:"values,omitempty"`
}

// NetworkReportRequest asks for the network report of an app or, with
// Global, of the global settings.
type NetworkReportRequest struct {
	Scope
}

// NetworkReport is an app's (or the global) network settings: raw values
// as set, the global ones, and the values in effect; WebListeners are the
// app's web containers' addresses.
type NetworkReport struct {
	App          map[string]string `json:"app"`
	Global       map[string]string `json:"global"`
	Computed     map[string]string `json:"computed"`
	WebListeners string            `json:"web_listeners"`
}

// Network operations.
var (
	NetworkCreate     = Op[NetworkRef, Empty]{"network.create", AdminOnly}
	NetworkDestroy    = Op[NetworkRef, Empty]{"network.destroy", AdminOnly}
	NetworkInspect    = Op[NetworkRef, NetworkInfo]{"network.info", AdminOnly}
	NetworkListOp     = Op[Empty, NetworkList]{"network.list", AdminOnly}
	NetworkSetOp      = Op[NetworkSet, Empty]{"network.set", AppScoped}
	NetworkReportOp   = Op[NetworkReportRequest, NetworkReport]{"network.report", AppScoped}
	NetworkRebuild    = Op[AppRef, Empty]{"network.rebuild", AppScoped}
	NetworkRebuildAll = Op[Empty, Empty]{"network.rebuildall", AdminOnly}
)
