package api

// RunRetireRequest retires the one-off containers past their deadline: of
// one app, or of every app when App is empty.
type RunRetireRequest struct {
	App string `json:"app,omitempty"`
}

// AppName is the app whose containers are retired ("" for every app).
func (r RunRetireRequest) AppName() string { return r.App }

// Wide is "--all" when the request retires every app's containers.
func (r RunRetireRequest) Wide() string {
	if r.App == "" {
		return "--all"
	}
	return ""
}

// RunRetire stops and removes one-off containers that have outlived their
// --ttl-seconds (Dokku's run:retire).
var RunRetire = Op[RunRetireRequest, Empty]{"run.retire", AppScoped}
