package api

import "time"

// Empty is the request or response of operations that carry nothing.
type Empty struct{}

// AppRef names one app.
type AppRef struct {
	App string `json:"app"`
}

// Scope names an app, or the global scope when Global is set.
type Scope struct {
	App    string `json:"app,omitempty"`
	Global bool   `json:"global,omitempty"`
}

// VersionInfo describes the daemon.
type VersionInfo struct {
	Version string `json:"version"`
	DataDir string `json:"data_dir"`
	PID     int    `json:"pid"`
	// SSHAddr is where the built-in ssh server listens ("" when off).
	SSHAddr string `json:"ssh_addr,omitempty"`
	// ProxyAddr is where the proxy listens ("" without one).
	ProxyAddr string `json:"proxy_addr,omitempty"`
	// ProxyTLSAddr is where the proxy serves HTTPS ("" without).
	ProxyTLSAddr string `json:"proxy_tls_addr,omitempty"`
}

// AppInfo describes one app.
type AppInfo struct {
	Name                 string    `json:"name"`
	CreatedAt            time.Time `json:"created_at"`
	Locked               bool      `json:"locked"`
	Dir                  string    `json:"dir"`
	DeploySource         string    `json:"deploy_source"`
	DeploySourceMetadata string    `json:"deploy_source_metadata"`
}

// AppList is the response of AppsList.
type AppList struct {
	Apps []AppInfo `json:"apps"`
}

// RenameRequest renames or clones an app.
type RenameRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
	// SkipDeploy leaves the new app undeployed (apps:clone/rename --skip-deploy).
	SkipDeploy bool `json:"skip_deploy,omitempty"`
	// IgnoreExisting makes clone succeed without change when To exists.
	IgnoreExisting bool `json:"ignore_existing,omitempty"`
}

// LockResult reports the lock state before a lock or unlock.
type LockResult struct {
	WasLocked bool `json:"was_locked"`
}

// ConfigRequest reads config vars.
type ConfigRequest struct {
	Scope
	// Merged includes global vars under the app's.
	Merged bool `json:"merged,omitempty"`
}

// ConfigVars is a set of config vars.
type ConfigVars struct {
	Vars map[string]string `json:"vars"`
}

// ConfigChange sets, unsets, replaces or clears config vars.
type ConfigChange struct {
	Scope
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
	// Replace removes every var not in Set (config:import --replace, config:clear).
	Replace   bool `json:"replace,omitempty"`
	NoRestart bool `json:"no_restart,omitempty"`
}

// ConfigChangeResult says what a config change did.
type ConfigChangeResult struct {
	Unset []string `json:"unset,omitempty"` // keys that were set and are now gone
	// Restarted is true when the change redeployed the app.
	Restarted bool `json:"restarted"`
}

// PropertyChange sets (or, with an empty Value and Unset, clears) one
// NAMESPACE:set key.
type PropertyChange struct {
	Scope
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	Value     string `json:"value,omitempty"`
	Unset     bool   `json:"unset,omitempty"`
}

// PropertyReport asks for every key of a namespace.
type PropertyReport struct {
	Scope
	Namespace string `json:"namespace"`
}

// PropertyValues holds a namespace's keys: the app's value, the global value
// and the computed one.
type PropertyValues struct {
	App      map[string]string `json:"app"`
	Global   map[string]string `json:"global"`
	Computed map[string]string `json:"computed"`
	// Fields are the namespace's report lines, in the registry's key
	// order: each setting's raw (KEY), computed (computed-KEY) and global
	// (global-KEY) lines as the setting declares them (app.Setting.Report);
	// for a --global report only the computed and global lines of the
	// settings that may be set globally.
	Fields []ReportField `json:"fields,omitempty"`
}

// ReportField is one line of a NAMESPACE:report: its key without the
// namespace (e.g. "computed-restart-policy") and its value.
type ReportField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// The operations.
var (
	SystemVersion = Op[Empty, VersionInfo]{"system.version", AnyKey}

	AppsCreate  = Op[AppRef, AppInfo]{"apps.create", AdminOnly}
	AppsList    = Op[Empty, AppList]{"apps.list", AnyKey}
	AppsInfo    = Op[AppRef, AppInfo]{"apps.info", AppScoped}
	AppsDestroy = Op[AppRef, Empty]{"apps.destroy", AdminOnly}
	AppsRename  = Op[RenameRequest, AppInfo]{"apps.rename", AdminOnly}
	AppsClone   = Op[RenameRequest, AppInfo]{"apps.clone", AdminOnly}
	AppsLock    = Op[AppRef, LockResult]{"apps.lock", AppScoped}
	AppsUnlock  = Op[AppRef, LockResult]{"apps.unlock", AppScoped}

	ConfigGet    = Op[ConfigRequest, ConfigVars]{"config.get", AppScoped}
	ConfigUpdate = Op[ConfigChange, ConfigChangeResult]{"config.update", AppScoped}

	PropertiesSet    = Op[PropertyChange, Empty]{"properties.set", AppScoped}
	PropertiesReport = Op[PropertyReport, PropertyValues]{"properties.report", AppScoped}
)
