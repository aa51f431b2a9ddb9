package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
)

// checkedApp is the test app with a CHECKS file that sets no WAIT: Dokku's
// default 5 s delay before the first attempt, which Berth ends as soon as
// the check passes.
func checkedApp(version, procfile string) map[string]string {
	return map[string]string{
		"Dockerfile": dockerfile(version),
		"Procfile":   procfile,
		"CHECKS":     "/health ok\n",
	}
}

// A checked app's config:set is done once its checks pass: well under the
// default CHECKS wait (5 s) it used to sit out, and with the 10 s uptime
// window running after the switch, not before. The deploy's log ends with
// its steps' times, which releases:info keeps.
func TestDeployTimeCheckedConfigSet(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "checks:set", "--global", "default-uptime-seconds", "10")
	d.mustBerth(t, "apps:create", "shop")
	if out, code := d.deployTar(t, "shop", appTar(t, checkedApp("v1", "web: testapp web\n"))); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	start := time.Now()
	out := d.mustBerth(t, "config:set", "shop", "FOO=bar")
	took := time.Since(start)
	t.Logf("config:set took %v", took)
	// The check step sat out 5 s before: on a loaded machine the wall
	// time varies, the check step's own time says what changed.
	m := regexp.MustCompile(`, check ([0-9.]+)s`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no check step time in the output:\n%s", out)
	}
	if check, _ := strconv.ParseFloat(m[1], 64); check >= 4 {
		t.Errorf("the checks took %ss, want well under the 5 s default CHECKS wait:\n%s", m[1], out)
	}
	for _, want := range []string{"within 5s (as soon as it answers)", "Watching web.1 until each has run 10s: if one stops, the previous containers take the traffic back", "Berth's own share"} {
		if !strings.Contains(out, want) {
			t.Errorf("config:set output lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "-----> Deploy took ") {
		t.Errorf("last line = %q, want the deploy's times", last)
	}
	if info := d.mustBerth(t, "releases:info", "shop", "1"); !strings.Contains(info, "Deploy steps:") || !strings.Contains(info, "check ") {
		t.Errorf("releases:info lacks the steps' times:\n%s", info)
	}
}

// A release whose web container passes its checks and dies 3 s after its
// start is switched back within the uptime window: the old release serves
// again and the release is marked failed. A type without checks waits 2 s
// (settle) before the switch: one that dies within it never takes a
// request (the deploy fails and no request fails), one that dies later is
// switched back as a checked one is.
func TestDeployWatchSwitchesBack(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "checks:set", "--global", "default-uptime-seconds", "10")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:add", "shop", "shop.test")
	if out, code := d.deployTar(t, "shop", appTar(t, checkedApp("v1", "web: testapp web\n"))); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	load := loadgen.Start(loadgen.Config{Addr: d.proxyAddr, Host: "shop.test", KeepAlive: 2, Fresh: 2, Interval: 5 * time.Millisecond})
	defer load.Stop()
	dying := "web: sh -c 'testapp web & sleep 3; exit 1'\n"
	out, code := d.deployTar(t, "shop", appTar(t, checkedApp("v2", dying)))
	if code != 0 || !strings.Contains(out, "Watching web.1 until each has run 10s: if one stops, release 1 takes the traffic back") {
		t.Fatalf("deploy of the dying release: %d\n%s", code, out)
	}
	var info string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		info = d.mustBerth(t, "releases:info", "shop", "2")
		if strings.Contains(info, "Status:        failed") {
			break
		}
	}
	if !strings.Contains(info, "Status:        failed") || !regexp.MustCompile(`watch: web\.1 (stopped|restarted) [0-9.]+m?s after its start, within the 10s uptime window`).MatchString(info) {
		t.Fatalf("release 2 was not switched back:\n%s", info)
	}
	gap := load.Snapshot()
	t.Logf("from the deploy to the switch back: %s", gap)
	if info := d.mustBerth(t, "releases:info", "shop", "1"); !strings.Contains(info, "Status:        live") {
		t.Errorf("release 1 is not live again:\n%s", info)
	}
	time.Sleep(time.Second)
	if st := load.Snapshot(); st.Failed() != 0 || st.Sent == 0 {
		t.Errorf("after the switch back %d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	if code, body := served(t, d, "shop.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("after the switch back the app serves %d %q, want v1", code, body)
	}
	if out := d.mustBerth(t, "logs:failed", "shop"); !strings.Contains(out, "web.1") {
		t.Errorf("logs:failed does not show the dead container:\n%s", out)
	}

	// No checks: a short wait (settle, 2 s) before the switch, then the
	// same watch. One that dies within the settle is never switched to:
	// the deploy fails and no request fails.
	d.mustBerth(t, "apps:create", "plain")
	d.mustBerth(t, "domains:add", "plain", "plain.test")
	plain := func(version, procfile string) map[string]string {
		return map[string]string{"Dockerfile": dockerfile(version), "Procfile": procfile}
	}
	if out, code := d.deployTar(t, "plain", appTar(t, plain("v1", "web: testapp web\n"))); code != 0 || !strings.Contains(out, "Waiting 2s for web.1 to stay up (then watched until it has run 10s)") {
		t.Fatalf("deploy plain: %d\n%s", code, out)
	}
	load2 := loadgen.Start(loadgen.Config{Addr: d.proxyAddr, Host: "plain.test", KeepAlive: 2, Fresh: 2, Interval: 5 * time.Millisecond})
	defer load2.Stop()
	early := "web: sh -c 'testapp web & sleep 1; exit 1'\n"
	if out, code := d.deployTar(t, "plain", appTar(t, plain("v2", early))); code == 0 || strings.Contains(out, "Switched plain") {
		t.Errorf("the release without checks dying within the settle was switched to: %d\n%s", code, out)
	}
	time.Sleep(200 * time.Millisecond)
	if st := load2.Snapshot(); st.Failed() != 0 || st.Sent == 0 {
		t.Errorf("%d of %d requests failed: %v", st.Failed(), st.Sent, st.Errors)
	}
	if code, body := served(t, d, "plain.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("plain serves %d %q, want v1", code, body)
	}
	// One that dies after the switch, within the window: switched back.
	if out, code := d.deployTar(t, "plain", appTar(t, plain("v3", dying))); code != 0 || !strings.Contains(out, "Watching web.1 until each has run 10s") {
		t.Fatalf("deploy of the dying release without checks: %d\n%s", code, out)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if info = d.mustBerth(t, "releases:info", "plain", "3"); strings.Contains(info, "Status:        failed") {
			break
		}
	}
	if !strings.Contains(info, "Status:        failed") {
		t.Fatalf("release 3 of plain was not switched back:\n%s", info)
	}
	if code, body := served(t, d, "plain.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("after the switch back plain serves %d %q, want v1", code, body)
	}
}
