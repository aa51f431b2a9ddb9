package api

// LogsFailedResult says whether a failed deploy's output was kept.
type LogsFailedResult struct {
	Found bool `json:"found"`
}

// LogsFailed writes what the containers of an app's last failed deploy
// left (logs:failed).
var LogsFailed = Op[AppRef, LogsFailedResult]{"logs.failed", AppScoped}
