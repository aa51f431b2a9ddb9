package e2e

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// allContainers returns every process container of app, running or not.
func allContainers(t *testing.T, eng *docker.Client, d *daemon, app string) []docker.ContainerInfo {
	t.Helper()
	cs, err := eng.ListContainers(context.Background(), map[string]string{"berth.instance": d.prefix(), "berth.app": app, "berth.kind": "process"}, true)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// dockerExec runs cmd in the container called name, as `docker exec NAME`.
func dockerExec(t *testing.T, eng *docker.Client, name string, cmd ...string) string {
	t.Helper()
	var out strings.Builder
	code, err := eng.Exec(context.Background(), name, docker.ExecOptions{Cmd: cmd, Stdout: &out, Stderr: &out})
	if err != nil || code != 0 {
		t.Fatalf("docker exec %s %v: exit %d, %v\n%s", name, cmd, code, err, out.String())
	}
	return strings.TrimSpace(out.String())
}

// TestDokkuContainerNames is issue 11's items 5 and 6: once a deploy has
// returned, the live containers are APP.TYPE.N (also on a first deploy),
// the old web containers wait out wait-to-retire as APP.TYPE.N.<epoch>,
// old workers have already stopped, quick restarts do not pile up
// generations, a failed deploy renames nothing, and a daemon that died in
// the middle of a switch's renames puts the names right at its start.
func TestDokkuContainerNames(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	// Long enough to look at the old web container while it waits.
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "600")
	d.mustBerth(t, "apps:create", "shop")
	p := d.prefix() + "-shop."
	deploy := func(version string) string {
		t.Helper()
		files := map[string]string{"Dockerfile": dockerfile(version), "Procfile": procfile, "DOKKU_SCALE": "web=1\nworker=1\n"}
		out, code := d.deployTar(t, "shop", appTar(t, files))
		if code != 0 {
			t.Fatalf("deploy %s: exit %d\n%s", version, code, out)
		}
		return out
	}
	// byName returns the app's containers by name; describe lists them
	// as "NAME=TYPE.N@RELEASE/STATE".
	byName := func() map[string]docker.ContainerInfo {
		m := map[string]docker.ContainerInfo{}
		for _, c := range allContainers(t, eng, d, "shop") {
			m[c.Name] = c
		}
		return m
	}
	describe := func(m map[string]docker.ContainerInfo) string {
		var s []string
		for n, c := range m {
			s = append(s, n+"="+c.Labels["berth.process"]+"."+c.Labels["berth.index"]+"@"+c.Labels["berth.release"]+"/"+c.State)
		}
		sort.Strings(s)
		return strings.Join(s, " ")
	}
	live := func(m map[string]docker.ContainerInfo, name, release string) docker.ContainerInfo {
		t.Helper()
		c, ok := m[p+name]
		if !ok || c.Labels["berth.release"] != release || c.State != "running" {
			t.Fatalf("%s%s is not release %s running: %s", p, name, release, describe(m))
		}
		return c
	}
	retiredRE := regexp.MustCompile("^" + regexp.QuoteMeta(p) + `web\.1\.(\d+)$`)

	// A first deploy: final names at once, nothing else.
	deploy("v1")
	m := byName()
	if len(m) != 2 {
		t.Fatalf("after the first deploy: %s", describe(m))
	}
	live(m, "web.1", "1")
	live(m, "worker.1", "1")
	if v := dockerExec(t, eng, p+"web.1", "sh", "-c", "echo $APP_VERSION"); v != "v1" {
		t.Errorf("docker exec %sweb.1 runs %q", p, v)
	}

	// A second deploy: the old web waits as APP.web.1.<epoch>, the old
	// worker has stopped already.
	before := time.Now().Unix()
	out := deploy("v2")
	after := time.Now().Unix()
	for _, want := range []string{"Stopping 1 old container(s) that take no traffic: " + p + "worker.1.", "Retiring 1 old web container(s) in 10m0s: " + p + "web.1."} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}
	m = byName()
	web2 := live(m, "web.1", "2")
	live(m, "worker.1", "2")
	if len(m) != 3 {
		t.Errorf("after the second deploy: %s", describe(m))
	}
	var oldWeb docker.ContainerInfo
	for n, c := range m {
		if sub := retiredRE.FindStringSubmatch(n); sub != nil {
			oldWeb = c
			epoch, _ := strconv.ParseInt(sub[1], 10, 64)
			if epoch < before || epoch > after {
				t.Errorf("old web container %s: epoch not between %d and %d", n, before, after)
			}
		}
	}
	if oldWeb.ID == "" || oldWeb.Labels["berth.release"] != "1" || oldWeb.State != "running" {
		t.Fatalf("no old web container waiting to retire: %s", describe(m))
	}
	if v := dockerExec(t, eng, p+"web.1", "sh", "-c", "echo $APP_VERSION"); v != "v2" {
		t.Errorf("docker exec %sweb.1 runs %q", p, v)
	}
	for _, dyno := range []string{"web.1", "worker.1"} {
		if o, code := d.berth("enter", "shop", dyno, "sh", "-c", "echo $APP_VERSION"); code != 0 || strings.TrimSpace(o) != "v2" {
			t.Errorf("enter shop %s: exit %d %q", dyno, code, o)
		}
	}
	// ps:report's --status-TYPE.N lines are the live containers only.
	var rep map[string]string
	decodeJSON(t, d.mustBerth(t, "ps:report", "shop", "--format", "json"), &rep)
	var names []string
	for k, v := range rep {
		dyno, ok := strings.CutPrefix(k, "status-")
		if !ok {
			continue
		}
		names = append(names, p+dyno)
		if c := m[p+dyno]; len(c.ID) < 12 || !strings.Contains(v, "(CID: "+c.ID[:12]+")") {
			t.Errorf("ps:report %s = %q, want the CID of %s%s (%s)", k, v, p, dyno, c.ID)
		}
	}
	sort.Strings(names)
	if strings.Join(names, " ") != p+"web.1 "+p+"worker.1" {
		t.Errorf("ps:report lists %v, want only the live containers", names)
	}
	if o := d.mustBerth(t, "ps:report", "shop", "--running"); strings.TrimSpace(o) != "true" {
		t.Errorf("ps:report --running = %q", o)
	}

	// A failed deploy leaves every container as it was, names included.
	files := map[string]string{"Dockerfile": dockerfile("v3"), "Procfile": "web: testapp exit 3\nworker: testapp worker\n", "DOKKU_SCALE": "web=1\nworker=1\n"}
	if o, code := d.deployTar(t, "shop", appTar(t, files)); code == 0 {
		t.Fatalf("a broken deploy succeeded:\n%s", o)
	}
	if got := byName(); describe(got) != describe(m) || got[p+"web.1"].ID != web2.ID || got[oldWeb.Name].ID != oldWeb.ID {
		t.Errorf("after a failed deploy:\n got %s\nwant %s", describe(got), describe(m))
	}

	// Quick restarts: each switch retires what was still waiting, so one
	// old web container waits, whatever the number of restarts.
	for i := range 3 {
		d.mustBerth(t, "ps:restart", "shop")
		m = byName()
		live(m, "web.1", "2")
		live(m, "worker.1", "2")
		waiting := 0
		for n, c := range m {
			if retiredRE.MatchString(n) && c.State == "running" {
				waiting++
			}
		}
		if len(m) != 3 || waiting != 1 {
			t.Errorf("after restart %d: %s", i+1, describe(m))
		}
		if _, ok := m[oldWeb.Name]; ok {
			t.Errorf("after restart %d: the web container of release 1 still waits", i+1)
		}
	}

	// The daemon dies in the middle of a switch's renames: the old web
	// container still holds the final name, the live one its temporary
	// name. At its start the daemon gives the names back by labels; what
	// waited to retire still waits, under a retiring name (the retire
	// queue: it goes at its time, 10 minutes after its switch).
	m = byName()
	liveWeb := live(m, "web.1", "2")
	var waitingWeb string
	for n, c := range m {
		if retiredRE.MatchString(n) {
			waitingWeb = c.ID
		}
	}
	if err := d.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eng.RenameContainer(ctx, liveWeb.ID, p+"web.1.upcoming-2-deadbeef"); err != nil {
		t.Fatal(err)
	}
	if err := eng.RenameContainer(ctx, waitingWeb, p+"web.1"); err != nil {
		t.Fatal(err)
	}
	d2, err := startDaemon(d.dataDir, d.extraEnv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.stop(syscall.SIGKILL) })
	d = d2
	waitFor(t, 60*time.Second, "the names put right after a restart", func() bool {
		m = byName()
		waits := false
		for n, c := range m {
			waits = waits || (c.ID == waitingWeb && retiredRE.MatchString(n))
		}
		return len(m) == 3 && m[p+"web.1"].ID == liveWeb.ID && m[p+"worker.1"].ID != "" && waits
	})
	if !strings.Contains(d2.log.String(), "resuming the retirement of old containers") {
		t.Error("the restarted daemon did not resume the retire queue")
	}
	if v := dockerExec(t, eng, p+"web.1", "sh", "-c", "echo $APP_VERSION"); v != "v2" {
		t.Errorf("after the restart, docker exec %sweb.1 runs %q", p, v)
	}
}
