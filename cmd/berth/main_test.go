package main

import (
	"testing"

	"github.com/berthpaas/berth/internal/cli"
)

// TestBinaryHasEveryCommandPackage: the commands registered by the command
// packages beside cli are in the binary (commands.go imports them).
func TestBinaryHasEveryCommandPackage(t *testing.T) {
	for _, name := range []string{"apps:create", "postgres:create", "postgres:backup-list", "redis:link", "redis:export", "domains:add", "ports:report", "certs:add", "redirect:set", "letsencrypt:enable", "tokens:create", "events", "dashboard:set"} {
		if _, ok := cli.Lookup(name); !ok {
			t.Errorf("berth has no %s command", name)
		}
	}
}
