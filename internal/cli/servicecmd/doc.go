// Package servicecmd holds the postgres:* and redis:* commands (Dokku's
// postgres and redis plugins, built into Berth): create, link, start/stop,
// expose, upgrade (services.go), and export/import, clone and backups
// (data.go). They call the daemon's services.* operations, which
// internal/services implements.
//
// Its commands join cli's table from init (cli.Register); cmd/berth
// imports this package so that they are in the binary. It is a thin
// client like cli: it imports api and cli only.
package servicecmd
