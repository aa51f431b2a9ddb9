package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientDoesNotLinkTheDaemon: the command table is the thin client; the
// daemon, its store and the engine client reach the binary through
// cmd/berth only (Env.Serve), never through this package.
func TestClientDoesNotLinkTheDaemon(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to list dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/berthpaas/berth/internal/"
	for _, pkg := range strings.Fields(string(out)) {
		name, ok := strings.CutPrefix(pkg, mod)
		if !ok {
			continue
		}
		switch strings.SplitN(name, "/", 2)[0] {
		case "daemon", "store", "docker", "deploy", "proxy", "services", "sshserver":
			t.Errorf("internal/cli depends on %s", pkg)
		}
		if name == "gitserver" {
			t.Errorf("internal/cli depends on %s (only gitserver/hook is the client's)", pkg)
		}
	}
}
