package api

// DeployFollow asks for an app's deploy output as it is written, whoever
// started the deploy (a git push, the CLI, the dashboard).
type DeployFollow struct {
	App string `json:"app"`
	// Wait: with no deploy of the app running, wait for the next one
	// (else answer at once, Running false).
	Wait bool `json:"wait,omitempty"`
}

// AppName is the app whose deploys are followed.
func (r DeployFollow) AppName() string { return r.App }

// DeployFollowed is how the followed deploy ended.
type DeployFollowed struct {
	// Running is false when there was no deploy to follow.
	Running bool `json:"running"`
	// Op is the operation that deployed (git.push-deploy, ps.rebuild...).
	Op    string `json:"op,omitempty"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// DeploysFollow streams the output of an app's running (or, with Wait,
// next) deploy to its end (read only).
var DeploysFollow = Op[DeployFollow, DeployFollowed]{"deploys.follow", AppScoped}
