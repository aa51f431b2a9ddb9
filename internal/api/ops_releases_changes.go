package api

// ReleaseChanges is what each release of an app changed from the one
// before it (the dashboard's releases timeline): the config keys added,
// removed and changed (names only: values are never sent), and how long
// its deploy took.
type ReleaseChanges struct {
	Releases []ReleaseChange `json:"releases"`
}

// ReleaseChange is one release against its predecessor (the release with
// the next lower number; the first release has none: every key is added).
type ReleaseChange struct {
	Number int `json:"number"`
	// Previous is the release compared with (0: none).
	Previous int      `json:"previous,omitempty"`
	Added    []string `json:"added,omitempty"`
	Removed  []string `json:"removed,omitempty"`
	Changed  []string `json:"changed,omitempty"`
	// DeployMS is the sum of the deploy's step times (0: not recorded).
	DeployMS int64 `json:"deploy_ms,omitempty"`
	// StartedBy says who started the deploy, when recorded.
	StartedBy string `json:"started_by,omitempty"`
}

// ReleasesChanges lists, for each release of an app (newest first), its
// config keys' changes and its deploy's duration (read only).
var ReleasesChanges = Op[AppRef, ReleaseChanges]{"releases.changes", AppScoped}
