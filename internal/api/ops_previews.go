package api

import "time"

// PreviewSet changes one preview setting of an app (previews:set APP KEY
// [VALUE]); the only key is expire, a duration such as 7d or 12h, "" for
// never.
type PreviewSet struct {
	App   string `json:"app"`
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// PreviewSettings are an app's preview settings.
type PreviewSettings struct {
	App     string `json:"app"`
	Enabled bool   `json:"enabled"`
	// Expire is how long a preview lives after its last push, as set
	// ("7d"); "" is never.
	Expire string `json:"expire"`
}

// PreviewInfo is one preview app.
type PreviewInfo struct {
	Parent   string    `json:"parent"`
	App      string    `json:"app"`
	Branch   string    `json:"branch"`
	URL      string    `json:"url"`
	Services []string  `json:"services"` // KIND/NAME
	Created  time.Time `json:"created"`
	Pushed   time.Time `json:"pushed"`
	// Expires is when the expiry sweep destroys it; zero: never.
	Expires time.Time `json:"expires,omitzero"`
}

// PreviewList is an app's previews, by branch.
type PreviewList struct {
	Previews []PreviewInfo `json:"previews"`
}

// PreviewReportRequest asks for one app's preview report, or every app's
// ("" App).
type PreviewReportRequest struct {
	App string `json:"app,omitempty"`
}

// PreviewReports holds the reports of apps that have preview settings or
// previews.
type PreviewReports struct {
	Reports []PreviewReport `json:"reports"`
}

// PreviewReport is an app's previews:report.
type PreviewReport struct {
	PreviewSettings
	Previews int `json:"previews"`
}

// PreviewRef names the preview of an app's branch. Pushed is set by the
// push hook for a deleted branch (a branch without a preview is then no
// error), with Key the pushing ssh key.
type PreviewRef struct {
	App    string `json:"app"`
	Branch string `json:"branch"`
	Pushed bool   `json:"pushed,omitempty"`
	Key    string `json:"key,omitempty"`
}

// PreviewDeploy deploys a pushed branch of App as its preview app; the
// session's stdin is a tar of the tree at Rev. AppJSON and MaskSQL are
// the pushed tree's app.json and .berth/preview-mask.sql ("" when absent),
// which the hook reads from the push.
type PreviewDeploy struct {
	App     string `json:"app"`
	Key     string `json:"key,omitempty"`
	Branch  string `json:"branch"`
	Rev     string `json:"rev"`
	AppJSON string `json:"app_json,omitempty"`
	MaskSQL string `json:"mask_sql,omitempty"`
}

// PreviewDeployResult names the preview app a push deployed.
type PreviewDeployResult struct {
	App     string `json:"app"`
	URL     string `json:"url"`
	Release int    `json:"release"`
}

func (r PreviewSet) AppName() string           { return r.App }
func (r PreviewRef) AppName() string           { return r.App }
func (r PreviewReportRequest) AppName() string { return r.App }

// Wide is "--all" when the report names no app.
func (r PreviewReportRequest) Wide() string {
	if r.App == "" {
		return "--all"
	}
	return ""
}

// Preview operations (docs/previews.md). Previews make apps and services,
// so every change is an admin's; the push hook calls previews.deploy and
// previews.destroy on the control socket.
var (
	PreviewsEnable  = Op[AppRef, PreviewSettings]{"previews.enable", AdminOnly}
	PreviewsDisable = Op[AppRef, PreviewSettings]{"previews.disable", AdminOnly}
	PreviewsSet     = Op[PreviewSet, PreviewSettings]{"previews.set", AdminOnly}
	PreviewsList    = Op[AppRef, PreviewList]{"previews.list", AppScoped}
	PreviewsReport  = Op[PreviewReportRequest, PreviewReports]{"previews.report", AppScoped}
	PreviewsDestroy = Op[PreviewRef, Empty]{"previews.destroy", AdminOnly}
	PreviewsDeploy  = SessionOp[PreviewDeploy, PreviewDeployResult]{"previews.deploy", AdminOnly}
)
