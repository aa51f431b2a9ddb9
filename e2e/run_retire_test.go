package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunTTLAndRetire: run:detached --ttl-seconds labels its container with
// its deadline (and the global --label flags); run:retire stops those past
// it and leaves the others and the app's processes running; a bad TTL is
// refused before anything starts.
func TestRunTTLAndRetire(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": procfile})); code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, out)
	}
	short := strings.TrimSpace(d.mustBerth(t, "--label=com.example.team=ops", "run:detached", "--ttl-seconds=1", "shop", "testapp", "worker"))
	long := strings.TrimSpace(d.mustBerth(t, "run:detached", "shop", "testapp", "worker"))
	ctx := context.Background()
	det, err := eng.InspectContainer(ctx, short)
	if err != nil {
		t.Fatal(err)
	}
	if det.Labels["com.dokku.active-deadline-seconds"] != "1" || det.Labels["com.example.team"] != "ops" {
		t.Errorf("labels of %s: %v", short, det.Labels)
	}
	if out := d.mustBerth(t, "--quiet", "run:list", "shop"); strings.Count(out, "\n") != 2 || !strings.Contains(out, short) || !strings.Contains(out, long) {
		t.Errorf("--quiet run:list = %q, want one line per container and no header", out)
	}
	time.Sleep(2100 * time.Millisecond) // the engine's creation times are in seconds
	out := d.mustBerth(t, "run:retire")
	if !strings.Contains(out, "Retiring container "+short) || strings.Contains(out, long) {
		t.Errorf("run:retire said:\n%s", out)
	}
	list := d.mustBerth(t, "--quiet", "run:list", "shop")
	if strings.Contains(list, short) || !strings.Contains(list, long) {
		t.Errorf("after run:retire: %q", list)
	}
	if _, ok := containers(t, eng, d, "shop")["web.1"]; !ok {
		t.Error("run:retire touched web.1")
	}
	if out, code := d.berth("run", "--ttl-seconds", "$(id)", "shop", "echo", "hi"); code == 0 || !strings.Contains(out, "--ttl-seconds must be a positive integer") || strings.Contains(out, "uid=") {
		t.Errorf("bad ttl: exit %d %q", code, out)
	}
	if out, code := d.berth("--label=berth.app=other", "run", "shop", "echo", "hi"); code == 0 || !strings.Contains(out, "Berth's own") {
		t.Errorf("berth.* label: exit %d %q", code, out)
	}
}
