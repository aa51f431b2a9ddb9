package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// What a container gets when it is created (docker-options, storage,
// resource), through the real binary and engine: a storage mount reaches
// the process containers and one-off containers and what is written there
// survives a redeploy; a memory limit and reservation and a deploy-phase
// docker option are on the running containers (the engine's inspect), and
// a process over its limit is OOM-killed, restarted and reported. See
// docs/reliability.md ("A container is killed or OOM-killed").
func TestContainerOptionsMountsAndMemory(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	ctx := context.Background()
	host := shortTempDir(t)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "storage:mount", "shop", host+":/data")
	d.mustBerth(t, "resource:limit", "--memory", "16m", "--process-type", "hog", "shop")
	d.mustBerth(t, "resource:reserve", "--memory", "8", "shop") // a plain number is megabytes, as in Dokku
	d.mustBerth(t, "docker-options:add", "shop", "deploy", "--label=com.example.probe=$(id)")
	if out, code := d.berth("docker-options:add", "shop", "deploy", "--network host"); code == 0 || !strings.Contains(out, "does not apply the docker option --network") {
		t.Errorf("docker-options:add --network: exit %d\n%s", code, out)
	}
	// hog stays up past the uptime check, then needs 64 MB at once.
	files := map[string]string{"Dockerfile": dockerfile("v1"),
		"Procfile": "web: testapp web\nhog: sh -c 'sleep 3; exec dd if=/dev/zero of=/dev/null bs=64M count=1'\n"}
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	d.mustBerth(t, "ps:scale", "shop", "hog=1")
	type inspected struct {
		Config     struct{ Labels map[string]string }
		HostConfig struct {
			Memory, MemoryReservation int64
			Binds                     []string
		}
	}
	inspect := func(dyno string) inspected {
		t.Helper()
		c, ok := containers(t, eng, d, "shop")[dyno]
		if !ok {
			t.Fatalf("no %s container", dyno)
		}
		det, err := eng.InspectContainer(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var v inspected
		if err := json.Unmarshal(det.Raw, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	web, hog := inspect("web.1"), inspect("hog.1")
	if web.HostConfig.Memory != 0 || web.HostConfig.MemoryReservation != 8<<20 || hog.HostConfig.Memory != 16<<20 {
		t.Errorf("memory: web limit %d reservation %d, hog limit %d; want 0, 8 MiB, 16 MiB", web.HostConfig.Memory, web.HostConfig.MemoryReservation, hog.HostConfig.Memory)
	}
	if web.Config.Labels["com.example.probe"] != "$(id)" || web.Config.Labels["berth.app"] != "shop" {
		t.Errorf("labels: %v", web.Config.Labels)
	}
	if !slices.Contains(web.HostConfig.Binds, host+":/data") || !slices.Contains(hog.HostConfig.Binds, host+":/data") {
		t.Errorf("binds: web %q hog %q", web.HostConfig.Binds, hog.HostConfig.Binds)
	}

	// A one-off container writes to the mount; a redeployed web reads it.
	d.mustBerth(t, "run", "--no-tty", "shop", "sh", "-c", "echo kept > /data/note")
	if b, err := os.ReadFile(filepath.Join(host, "note")); err != nil || string(b) != "kept\n" {
		t.Fatalf("the host directory after run: %q, %v", b, err)
	}
	files["Dockerfile"] = dockerfile("v2")
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("redeploy: %d\n%s", code, out)
	}
	if out := d.mustBerth(t, "enter", "shop", "web.1", "sh", "-c", "echo $APP_VERSION; cat /data/note"); out != "v2\nkept\n" {
		t.Errorf("the redeployed web reads %q, want v2 and the note", out)
	}

	// The hog goes over its limit: the kernel kills it, the engine
	// restarts it, and Berth logs and reports the OOM kill.
	waitFor(t, 30*time.Second, "the daemon to log hog's OOM kill", func() bool {
		return strings.Contains(d.log.String(), `msg="process container exited" app=shop process=hog.1`) &&
			strings.Contains(d.log.String(), "exit_code=137 oom_killed=true")
	})
	// (The log line may come from the release before, whose hog was killed
	// too: the live hog's own kill is what ps:report shows.)
	waitFor(t, 30*time.Second, "ps:report to show hog.1's OOM kill", func() bool {
		got, code := d.berth("ps:report", "shop", "--ps-last-exit-hog-1")
		return code == 0 && strings.Contains(got, "OOM killed")
	})
	// Unmounted: the next containers have no bind.
	d.mustBerth(t, "storage:unmount", "shop", host+":/data")
	d.mustBerth(t, "ps:rebuild", "shop")
	if binds := inspect("web.1").HostConfig.Binds; slices.Contains(binds, host+":/data") {
		t.Errorf("after storage:unmount and ps:rebuild the web still mounts %s: %q", host, binds)
	}
}
