package api

import "sort"

// Access says which ssh keys may call an operation. Every operation
// declares it next to its name (Op{"apps.info", AppScoped}); the local CLI
// on the root-only control socket may call everything.
type Access uint8

// Access levels. The zero value, Undeclared, is treated as AdminOnly, so an
// operation that forgets to declare its access is closed to limited keys;
// the test of the daemon's operation table fails on it.
const (
	// Undeclared is an operation that did not say (treated as AdminOnly).
	Undeclared Access = iota
	// AdminOnly operations need an admin key: creating, destroying,
	// renaming apps, keys, services, global settings, cleanup.
	AdminOnly
	// AppScoped operations may be called by a key limited to some apps,
	// on those apps only: the request implements AppRequest (and
	// WideRequest when it can name every app).
	AppScoped
	// AnyKey operations may be called by every key (version, apps:list,
	// which the access check filters).
	AnyKey
)

func (a Access) String() string {
	switch a {
	case AdminOnly:
		return "admin-only"
	case AppScoped:
		return "app-scoped"
	case AnyKey:
		return "any-key"
	}
	return "undeclared"
}

// AppRequest is the request of an AppScoped operation: it names the app
// the call touches, for the access check of keys limited to some apps.
type AppRequest interface {
	// AppName is the app the call touches; "" when the request names none.
	AppName() string
}

// WideRequest is a request that can touch every app instead of one
// (--global, --all): a key limited to some apps may not make such a call.
type WideRequest interface {
	// Wide names the flag that makes the call touch every app
	// ("--global", "--all"), or is "" when it touches one app.
	Wide() string
}

// OpInfo describes an operation registered on a Mux.
type OpInfo struct {
	Name    string
	Access  Access
	Session bool // an interactive operation (SessionOp)
	// NewRequest returns a pointer to a zero request of the operation.
	NewRequest func() any
	// NewResponse returns a pointer to a zero response (OpenAPI).
	NewResponse func() any
}

// Access is the declared access of operation op; Undeclared when op is not
// registered.
func (m *Mux) Access(op string) Access {
	return m.ops[op].Access
}

// Ops lists the registered operations, sorted by name.
func (m *Mux) Ops() []OpInfo {
	var ops []OpInfo
	for _, o := range m.ops {
		ops = append(ops, o)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Name < ops[j].Name })
	return ops
}

// declare records an operation's access and request type.
func declare[Req, Resp any](m *Mux, name string, access Access, session bool) {
	if m.ops == nil {
		m.ops = map[string]OpInfo{}
	}
	m.ops[name] = OpInfo{Name: name, Access: access, Session: session, NewRequest: func() any { return new(Req) }, NewResponse: func() any { return new(Resp) }}
}

// ScopedRequest is a request that carries the app scope of its caller
// (FromImageRequest, FromArchiveRequest: deploys refuse another app's
// images for a scoped caller). An access check that lets a caller limited
// to apps through sets it with WithScope.
type ScopedRequest interface {
	WithScope(apps []string) any
}

// WithScope returns r limited to apps.
func (r FromImageRequest) WithScope(apps []string) any {
	r.ScopedTo = apps
	return r
}

// WithScope returns r limited to apps.
func (r FromArchiveRequest) WithScope(apps []string) any {
	r.ScopedTo = apps
	return r
}

// The requests of app-scoped operations name their app.

func (r AppRef) AppName() string             { return r.App }
func (r FromArchiveRequest) AppName() string { return r.App }
func (r FromImageRequest) AppName() string   { return r.App }
func (r PSRequest) AppName() string          { return r.App }
func (r ScaleRequest) AppName() string       { return r.App }
func (r RunRequest) AppName() string         { return r.App }
func (r EnterRequest) AppName() string       { return r.App }
func (r RunStopRequest) AppName() string     { return r.App }
func (r LogsRequest) AppName() string        { return r.App }
func (r RollbackRequest) AppName() string    { return r.App }
func (r ReleaseRef) AppName() string         { return r.App }
func (r ChecksRequest) AppName() string      { return r.App }
func (r ChecksMode) AppName() string         { return r.App }
func (r CertAdd) AppName() string            { return r.App }
func (r CertGenerate) AppName() string       { return r.App }
func (r CertShow) AppName() string           { return r.App }
func (r RedirectSet) AppName() string        { return r.App }
func (r PortsChange) AppName() string        { return r.App }
func (r PortsRequest) AppName() string       { return r.App }
func (r DomainsReportRequest) AppName() string {
	return r.App
}

// AppName is the app of a Scope (and of the requests that embed one).
func (s Scope) AppName() string { return s.App }

// Wide is "--global" for the global scope.
func (s Scope) Wide() string {
	if s.Global {
		return "--global"
	}
	return ""
}

// Wide is "--all" for every app.
func (r PSRequest) Wide() string {
	if r.All {
		return "--all"
	}
	return ""
}

// Wide is "--all" for every app.
func (r PortsRequest) Wide() string {
	if r.All {
		return "--all"
	}
	return ""
}

// Wide is "--global" or "--all" (--global first, as the access check has
// always read them).
func (r DomainsReportRequest) Wide() string {
	switch {
	case r.Global:
		return "--global"
	case r.All:
		return "--all"
	}
	return ""
}
