package api

// Grant is what a caller other than the local root may do: an ssh key or
// an API token. Admin grants may call every operation on every app;
// others the operations open to every caller, and the app-scoped ones on
// Apps, one app at a time. A read-only grant may call only the reads
// (IsRead), whatever its scope.
type Grant struct {
	Admin    bool
	Apps     []string
	ReadOnly bool
}

// MayTouch reports whether the grant may act on app.
func (g Grant) MayTouch(app string) bool {
	if g.Admin {
		return true
	}
	for _, a := range g.Apps {
		if a == app {
			return true
		}
	}
	return false
}

// Denied checks one call of op, whose declared access is access, with the
// typed request req (see AppRequest, WideRequest). It returns "" when the
// grant allows it, or else what was refused: the operation, the flag that
// makes it touch every app, or the app ("app shop").
func (g Grant) Denied(op string, access Access, req any) string {
	if g.ReadOnly && !IsRead(op) {
		return op + " (a change; the caller is read-only)"
	}
	if g.Admin || access == AnyKey {
		return ""
	}
	if access != AppScoped {
		return op
	}
	if w, ok := req.(WideRequest); ok {
		if flag := w.Wide(); flag != "" {
			return flag
		}
	}
	var appName string
	if r, ok := req.(AppRequest); ok {
		appName = r.AppName()
	}
	switch {
	case appName == "":
		return op + " without an app"
	case !g.MayTouch(appName):
		return "app " + appName
	}
	return ""
}
