package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestLogsMaxSizeAndFailed: logs:set max-size caps the log of the app's
// containers (json-file and local drivers), Dokku's 10m by default; and
// logs:failed shows what a failed deploy's containers printed.
func TestLogsMaxSizeAndFailed(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	driver, err := exec.Command("docker", "info", "--format", "{{.LoggingDriver}}").Output()
	if err != nil {
		t.Fatalf("docker info: %v", err)
	}
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	if out := d.mustBerth(t, "logs:report", "shop", "--logs-computed-max-size"); out != "10m\n" {
		t.Errorf("default max-size = %q, want 10m", out)
	}
	d.mustBerth(t, "logs:set", "shop", "max-size", "20m")
	if out, code := d.berth("logs:set", "shop", "max-size", "20x"); code == 0 || !strings.Contains(out, "Invalid max-size unit measure") {
		t.Errorf("logs:set max-size 20x: exit %d\n%s", code, out)
	}
	if out, code := d.berth("logs:set", "shop", "vector-sink", "console://"); code == 0 || !strings.Contains(out, "Berth does not ship logs with Vector") {
		t.Errorf("logs:set vector-sink: exit %d\n%s", code, out)
	}
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1")})); code != 0 {
		t.Fatalf("deploy failed (exit %d):\n%s", code, out)
	}
	web := containers(t, eng, d, "shop")["web.1"]
	det, err := eng.InspectContainer(context.Background(), web.ID)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		HostConfig struct {
			LogConfig struct {
				Type   string
				Config map[string]string
			}
		}
	}
	if err := json.Unmarshal(det.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	switch strings.TrimSpace(string(driver)) {
	case "json-file", "local":
		if got := raw.HostConfig.LogConfig.Config["max-size"]; got != "20m" {
			t.Errorf("web.1's log max-size = %q, want 20m (log config %+v)", got, raw.HostConfig.LogConfig)
		}
	default: // other drivers take no max-size
		if got, set := raw.HostConfig.LogConfig.Config["max-size"]; set {
			t.Errorf("web.1 has max-size %q on the %s driver", got, driver)
		}
	}

	if out := d.mustBerth(t, "logs:failed", "shop"); !strings.Contains(out, "No failed containers found") {
		t.Errorf("logs:failed with no failed deploy: %q", out)
	}
	if out, code := d.deployTar(t, "shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v2"), "Procfile": "web: testapp exit 3\n"})); code == 0 {
		t.Fatalf("a deploy whose web exits 3 succeeded:\n%s", out)
	}
	if out := d.mustBerth(t, "logs:failed", "shop"); !strings.Contains(out, "shop[web.1, failed release 2]: exiting with 3") {
		t.Errorf("logs:failed after a failed deploy:\n%s", out)
	}
}
