package api

// Actions of DomainsUpdate.
const (
	DomainsAdd     = "add"     // add Domains (app or global)
	DomainsRemove  = "remove"  // remove Domains (app or global)
	DomainsSet     = "set"     // replace every domain with Domains (app or global)
	DomainsClear   = "clear"   // remove every domain (app or global)
	DomainsReset   = "reset"   // back to the default domain (app)
	DomainsEnable  = "enable"  // route the app's domains again (app)
	DomainsDisable = "disable" // stop routing the app's domains, keeping them (app)
)

// DomainsChange changes an app's domains, or (Global) the global ones.
type DomainsChange struct {
	Scope
	Action  string   `json:"action"`
	Domains []string `json:"domains,omitempty"`
}

// DomainsChangeResult says what a change did. Domain names are lower-cased.
type DomainsChangeResult struct {
	Added   []string `json:"added,omitempty"`
	Skipped []string `json:"skipped,omitempty"` // add: already there
	Removed []string `json:"removed,omitempty"`
	Missing []string `json:"missing,omitempty"` // remove: not there
	// Domains are the app's (or the global) domains after the change.
	Domains []string `json:"domains"`
	// Enabled is whether the app's domains are routed after the change;
	// WasEnabled before it (enable, disable, add and set enable).
	Enabled    bool `json:"enabled"`
	WasEnabled bool `json:"was_enabled"`
}

// DomainsReportRequest asks for one app's domains report, every app's (All),
// or the global one (Global).
type DomainsReportRequest struct {
	App    string `json:"app,omitempty"`
	All    bool   `json:"all,omitempty"`
	Global bool   `json:"global,omitempty"`
}

// DomainsReport describes an app's domains ("" App for the global report).
type DomainsReport struct {
	App        string   `json:"app,omitempty"`
	AppEnabled bool     `json:"app_enabled"`
	AppVhosts  []string `json:"app_vhosts"`
	// GlobalEnabled is true when a global domain is set.
	GlobalEnabled bool     `json:"global_enabled"`
	GlobalVhosts  []string `json:"global_vhosts"`
}

// DomainsReports holds reports of several apps.
type DomainsReports struct {
	Reports []DomainsReport `json:"reports"`
}

// URLList is an app's URLs, the main one first.
type URLList struct {
	URLs []string `json:"urls"`
}

// Actions of PortsUpdate.
const (
	PortsAdd    = "add"    // add Maps
	PortsSet    = "set"    // replace every map with Maps
	PortsRemove = "remove" // remove maps matching Maps (a map, scheme:host-port or host-port)
	PortsClear  = "clear"  // remove every map
)

// PortsChange changes an app's port maps (`scheme:host-port:container-port`).
type PortsChange struct {
	App    string   `json:"app"`
	Action string   `json:"action"`
	Maps   []string `json:"maps,omitempty"`
}

// PortsRequest asks for one app's ports report, or every app's (All).
type PortsRequest struct {
	App string `json:"app,omitempty"`
	All bool   `json:"all,omitempty"`
}

// PortsReport describes an app's port maps.
type PortsReport struct {
	App string `json:"app"`
	// Map is what ports:set/add set (empty: none).
	Map []string `json:"map"`
	// Detected is the map Berth uses when none is set.
	Detected []string `json:"detected"`
}

// PortsReports holds reports of several apps.
type PortsReports struct {
	Reports []PortsReport `json:"reports"`
}

// The domains and ports operations.
var (
	DomainsUpdate   = Op[DomainsChange, DomainsChangeResult]{"domains.update", AppScoped}
	DomainsReportOp = Op[DomainsReportRequest, DomainsReports]{"domains.report", AppScoped}
	DomainsURLs     = Op[AppRef, URLList]{"domains.urls", AppScoped}

	PortsUpdate   = Op[PortsChange, PortsReport]{"ports.update", AppScoped}
	PortsReportOp = Op[PortsRequest, PortsReports]{"ports.report", AppScoped}
)
