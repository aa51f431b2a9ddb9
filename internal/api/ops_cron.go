package api

import "time"

// CronListRequest asks for an app's cron tasks, or (Global) the tasks not
// of any app (Dokku's plugin-injected ones; Berth has none).
type CronListRequest struct {
	App    string `json:"app,omitempty"`
	Global bool   `json:"global,omitempty"`
}

// CronTask is one task of an app's app.json "cron".
type CronTask struct {
	ID                string `json:"id"`
	App               string `json:"app,omitempty"`
	Command           string `json:"command"`
	Schedule          string `json:"schedule"`
	ConcurrencyPolicy string `json:"concurrency_policy"`
	AppInMaintenance  bool   `json:"app_in_maintenance"`
	TaskInMaintenance bool   `json:"task_in_maintenance"`
	Maintenance       bool   `json:"maintenance"`
	// Next is when the scheduler runs it next (zero in maintenance).
	Next time.Time `json:"next,omitzero"`
	// LastRun is its last run that finished, if any is kept.
	LastRun *CronRunRecord `json:"last_run,omitempty"`
}

// CronRunRecord is what is kept of a task's run.
type CronRunRecord struct {
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Scheduled bool      `json:"scheduled"` // by the scheduler, not cron:run
	ExitCode  int       `json:"exit_code"`
	Error     string    `json:"error,omitempty"` // the run could not start
	Output    string    `json:"output"`          // its last lines
}

// CronTasks lists tasks.
type CronTasks struct {
	Tasks []CronTask `json:"tasks"`
}

// CronRunRequest runs a task now: attached (its output streamed, its exit
// code returned) or detached (its container's name returned).
type CronRunRequest struct {
	App        string `json:"app"`
	ID         string `json:"id"`
	Detach     bool   `json:"detach,omitempty"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
}

// CronRunResult is how a run ended, or the container of a detached one.
type CronRunResult struct {
	ExitCode int    `json:"exit_code"`
	Name     string `json:"name,omitempty"`
}

// CronSetRequest sets (or, Unset, clears) a cron property: mailfrom,
// mailto, maintenance, or maintenance.ID of one task.
type CronSetRequest struct {
	App    string `json:"app,omitempty"`
	Global bool   `json:"global,omitempty"`
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Unset  bool   `json:"unset,omitempty"`
}

// CronReportRequest asks for an app's cron report, or the global one.
type CronReportRequest struct {
	App    string `json:"app,omitempty"`
	Global bool   `json:"global,omitempty"`
}

// CronReportValues is a cron report: keys without the "cron-" prefix, in order.
type CronReportValues struct {
	Keys   []string          `json:"keys"`
	Values map[string]string `json:"values"`
}

// AppName implements AppRequest.
func (r CronListRequest) AppName() string { return r.App }

// Wide implements WideRequest.
func (r CronListRequest) Wide() string { return wide(r.Global) }

// AppName implements AppRequest.
func (r CronRunRequest) AppName() string { return r.App }

// AppName implements AppRequest.
func (r CronSetRequest) AppName() string { return r.App }

// Wide implements WideRequest.
func (r CronSetRequest) Wide() string { return wide(r.Global) }

// AppName implements AppRequest.
func (r CronReportRequest) AppName() string { return r.App }

// Wide implements WideRequest.
func (r CronReportRequest) Wide() string { return wide(r.Global) }

func wide(global bool) string {
	if global {
		return "--global"
	}
	return ""
}

// The cron:* operations.
var (
	CronList   = Op[CronListRequest, CronTasks]{"cron.list", AppScoped}
	CronRun    = Op[CronRunRequest, CronRunResult]{"cron.run", AppScoped}
	CronSet    = Op[CronSetRequest, Empty]{"cron.set", AppScoped}
	CronReport = Op[CronReportRequest, CronReportValues]{"cron.report", AppScoped}
)
