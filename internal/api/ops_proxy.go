package api

// ProxyToggle turns the proxy on or off for an app (proxy:enable,
// proxy:disable).
type ProxyToggle struct {
	App     string `json:"app"`
	Enabled bool   `json:"enabled"`
}

// ProxyToggled says whether the toggle changed anything.
type ProxyToggled struct {
	Changed bool `json:"changed"`
}

// AppName is the app of the toggle.
func (r ProxyToggle) AppName() string { return r.App }

// Proxy operations (the settings themselves are properties, namespace
// "proxy").
var (
	ProxyEnable      = Op[ProxyToggle, ProxyToggled]{"proxy.enable", AppScoped}
	ProxyBuildConfig = Op[AppRef, Empty]{"proxy.build-config", AppScoped}
)
