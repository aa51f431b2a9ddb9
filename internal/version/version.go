// Package version holds Berth's version, which the client, the daemon and
// the proxy all report.
package version

// Version is Berth's version, set at build time with
// -ldflags "-X github.com/berthpaas/berth/internal/version.Version=...".
var Version = "0.1.0-dev"
