package api

import (
	"encoding/json"
	"time"
)

// FromArchiveRequest deploys a tar or tar.gz of a source tree: from URL, or
// from the session's stdin when URL is "-".
type FromArchiveRequest struct {
	App string `json:"app"`
	URL string `json:"url"`
	// ScopedTo: see FromImageRequest.
	ScopedTo []string `json:"scoped_to,omitempty"`
}

// FromImageRequest deploys an image already on the engine.
type FromImageRequest struct {
	App   string `json:"app"`
	Image string `json:"image"`
	// ScopedTo, when not empty, are the only apps the caller may touch:
	// set by the caller's access check (a key scoped to some apps, see
	// ScopedRequest), never by the command line. The deploy then refuses
	// another app's release image.
	ScopedTo []string `json:"scoped_to,omitempty"`
}

// DeployResult names the release a deploy made live.
type DeployResult struct {
	Release int `json:"release"`
}

// PSRequest names an app, or every app.
type PSRequest struct {
	App string `json:"app,omitempty"`
	All bool   `json:"all,omitempty"`
}

// ScaleRequest changes an app's formation.
type ScaleRequest struct {
	App        string         `json:"app"`
	Changes    map[string]int `json:"changes,omitempty"`
	SkipDeploy bool           `json:"skip_deploy,omitempty"`
}

// ScaleResult is the formation after scaling.
type ScaleResult struct {
	Formation map[string]int `json:"formation"`
	Types     []string       `json:"types"` // what ps:scale lists, sorted (release included)
}

// ProcessStatus is one process container.
type ProcessStatus struct {
	Type     string `json:"type"`
	Index    int    `json:"index"`
	State    string `json:"state"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	HostPort int    `json:"host_port,omitempty"`
	// Restarts is the engine's restart count (its restart policy).
	Restarts int `json:"restarts"`
	// LastExit is how the container last ended, when known.
	LastExit *ProcessExit `json:"last_exit,omitempty"`
	// Node is the swarm node's address of a Swarm task ("": a container
	// on the server).
	Node string `json:"node,omitempty"`
}

// ProcessExit is how a process container ended.
type ProcessExit struct {
	Code      int       `json:"code"`
	OOMKilled bool      `json:"oom_killed"`
	At        time.Time `json:"at,omitzero"`
}

// PSReport describes an app's processes.
type PSReport struct {
	App           string            `json:"app"`
	Deployed      bool              `json:"deployed"`
	Release       int               `json:"release"`
	Image         string            `json:"image"`
	Processes     map[string]string `json:"processes"`
	Formation     map[string]int    `json:"formation"`
	Stopped       bool              `json:"stopped"`
	CanScale      bool              `json:"can_scale"`
	RestartPolicy string            `json:"restart_policy"`
	StopTimeout   int               `json:"stop_timeout"`
	ProcfilePath  string            `json:"procfile_path"`
	Containers    []ProcessStatus   `json:"containers"`
	// EngineError is set when the engine could not be asked about containers.
	EngineError string `json:"engine_error,omitempty"`
}

// PSReports holds reports of several apps.
type PSReports struct {
	Reports []PSReport `json:"reports"`
}

// InspectResult holds the engine's inspect JSON of containers.
type InspectResult struct {
	Containers []json.RawMessage `json:"containers"`
}

// RunRequest runs a one-off command.
type RunRequest struct {
	App string            `json:"app"`
	Cmd []string          `json:"cmd"`
	Env map[string]string `json:"env,omitempty"`
	TTY bool              `json:"tty,omitempty"`
	// TTLSeconds is how long the container may run before run:retire
	// (and the daemon's periodic sweep) stops it; 0: the default, a day.
	TTLSeconds int `json:"ttl_seconds,omitempty"`
	// Labels are extra Docker labels (the global --label flag).
	Labels map[string]string `json:"labels,omitempty"`
	// Quiet leaves out Berth's own lines (the global --quiet flag): only
	// the command's output is shown.
	Quiet bool `json:"quiet,omitempty"`
}

// RunResult is the exit code of a one-off command.
type RunResult struct {
	ExitCode int    `json:"exit_code"`
	Name     string `json:"name,omitempty"`
}

// EnterRequest runs a command in a running process container.
type EnterRequest struct {
	App    string   `json:"app"`
	Target string   `json:"target,omitempty"` // TYPE.N or TYPE
	Cmd    []string `json:"cmd,omitempty"`
	TTY    bool     `json:"tty,omitempty"`
}

// ContainerSummary is one container in a listing.
type ContainerSummary struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	State   string    `json:"state"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
}

// ContainerList lists containers.
type ContainerList struct {
	Containers []ContainerSummary `json:"containers"`
}

// RunStopRequest stops a one-off container.
type RunStopRequest struct {
	App  string `json:"app"`
	Name string `json:"name"`
}

// LogsRequest streams an app's logs.
type LogsRequest struct {
	App     string `json:"app"`
	Follow  bool   `json:"follow,omitempty"`
	Lines   int    `json:"lines,omitempty"`
	Process string `json:"process,omitempty"`
	Quiet   bool   `json:"quiet,omitempty"`
}

// ReleaseInfo describes one release.
type ReleaseInfo struct {
	Number    int       `json:"number"`
	Status    string    `json:"status"`
	Source    string    `json:"source"`
	SourceRef string    `json:"source_ref,omitempty"`
	GitRev    string    `json:"git_rev,omitempty"`
	Image     string    `json:"image,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Error     string    `json:"error,omitempty"`
	// Snapshots are the copies of linked databases taken before the
	// release's predeploy or release command (ops_snapshots.go).
	Snapshots []SnapshotInfo `json:"snapshots,omitempty"`
}

// ReleaseList lists an app's releases, newest first.
type ReleaseList struct {
	Releases []ReleaseInfo `json:"releases"`
}

// Deploy and process operations.
var (
	GitFromArchive = SessionOp[FromArchiveRequest, DeployResult]{"git.from-archive", AppScoped}
	GitFromImage   = Op[FromImageRequest, DeployResult]{"git.from-image", AppScoped}
	PSRebuild      = Op[PSRequest, Empty]{"ps.rebuild", AppScoped}
	PSScale        = Op[ScaleRequest, ScaleResult]{"ps.scale", AppScoped}
	PSStart        = Op[PSRequest, Empty]{"ps.start", AppScoped}
	PSStop         = Op[PSRequest, Empty]{"ps.stop", AppScoped}
	PSRestart      = Op[PSRequest, Empty]{"ps.restart", AppScoped}
	PSRestore      = Op[PSRequest, Empty]{"ps.restore", AppScoped}
	PSReportOp     = Op[PSRequest, PSReports]{"ps.report", AppScoped}
	PSInspect      = Op[AppRef, InspectResult]{"ps.inspect", AppScoped}
	Run            = SessionOp[RunRequest, RunResult]{"run", AppScoped}
	RunDetached    = Op[RunRequest, RunResult]{"run.detached", AppScoped}
	RunList        = Op[AppRef, ContainerList]{"run.list", AppScoped}
	RunStop        = Op[RunStopRequest, Empty]{"run.stop", AppScoped}
	Enter          = SessionOp[EnterRequest, RunResult]{"enter", AppScoped}
	Logs           = Op[LogsRequest, Empty]{"logs", AppScoped}
	Cleanup        = Op[Empty, Empty]{"cleanup", AdminOnly}
	ReleasesList   = Op[AppRef, ReleaseList]{"releases.list", AppScoped}
)

// RollbackRequest rolls an app back to release N (0: the previous one).
type RollbackRequest struct {
	App     string `json:"app"`
	Release int    `json:"release,omitempty"`
	// WithData also restores the linked databases from the snapshots
	// taken before the first release after the target that took any
	// (releases.data-plan says which).
	WithData bool `json:"with_data,omitempty"`
	// DataFrom, with WithData, is the release whose snapshots the caller
	// confirmed; another one refuses, changing nothing. 0: any.
	DataFrom int `json:"data_from,omitempty"`
}

// ReleaseRef names one release.
type ReleaseRef struct {
	App     string `json:"app"`
	Release int    `json:"release"`
}

// ReleaseDetail describes one release fully.
type ReleaseDetail struct {
	ReleaseInfo
	Processes  map[string]string `json:"processes"`
	Formation  map[string]int    `json:"formation"`
	ConfigKeys []string          `json:"config_keys"`
	StartedBy  string            `json:"started_by"`
	RollbackOf int               `json:"rollback_of,omitempty"`
	FinishedAt time.Time         `json:"finished_at"`
	// Steps are how long each step of the release's last deploy took (its
	// first, or the last redeploy of it), in the order they ran.
	Steps []StepTime `json:"steps,omitempty"`
}

// StepTime is how long one deploy step took, in milliseconds.
type StepTime struct {
	Step string `json:"step"`
	MS   int64  `json:"ms"`
}

// ChecksRequest changes or runs an app's checks for some process types.
type ChecksRequest struct {
	App   string   `json:"app"`
	Types []string `json:"types,omitempty"` // empty: every type
}

// Release and check operations.
var (
	ReleasesRollback = Op[RollbackRequest, DeployResult]{"releases.rollback", AppScoped}
	ReleasesInfo     = Op[ReleaseRef, ReleaseDetail]{"releases.info", AppScoped}
	ChecksRun        = Op[ChecksRequest, Empty]{"checks.run", AppScoped}
)

// ChecksMode disables, enables or skips the checks of process types.
type ChecksMode struct {
	App   string   `json:"app"`
	Types []string `json:"types,omitempty"` // empty: every type (_all_)
	Mode  string   `json:"mode"`            // disable, enable, skip
}

// ChecksSetMode changes which process types are checked.
var ChecksSetMode = Op[ChecksMode, Empty]{"checks.set-mode", AppScoped}
