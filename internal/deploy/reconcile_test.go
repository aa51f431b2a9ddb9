package deploy

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// ctr is a process container as the engine lists it.
func ctr(id, name, typ string, i, release int, generation, state string, port int) docker.ContainerInfo {
	return docker.ContainerInfo{ID: id, Name: name, State: state, HostPort: port, Labels: map[string]string{
		naming.LabelProcess: typ, naming.LabelIndex: strconv.Itoa(i), naming.LabelRelease: strconv.Itoa(release), naming.LabelGeneration: generation, naming.LabelKind: naming.KindProcess,
	}}
}

func renameList(rs []naming.Rename) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID+":"+r.From+">"+r.To)
	}
	return strings.Join(out, " ")
}

func upList(p reconcilePlan) string {
	var out []string
	for _, a := range p.up {
		s := a.typ + "." + itoa(a.index)
		if a.id != "" {
			s += "=" + a.id
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func idList(cs []docker.ContainerInfo) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return strings.Join(out, " ")
}

func TestDiff(t *testing.T) {
	const epoch = 1700000000
	procs := map[string]string{"web": "/bin/web", "worker": "/bin/work"}
	want := func(f map[string]int) wanted {
		return wanted{app: "shop", release: 2, generation: "g2", processes: procs, formation: f}
	}
	tests := []struct {
		name    string
		want    wanted
		have    []docker.ContainerInfo
		tidy    bool
		up      string
		retire  string
		renames string
	}{
		{
			name: "in shape: nothing to do",
			want: want(map[string]int{"web": 1, "worker": 1}),
			have: []docker.ContainerInfo{
				ctr("a", "shop.web.1", "web", 1, 2, "g2", "running", 32001),
				ctr("b", "shop.worker.1", "worker", 1, 2, "g2", "running", 0),
			},
		},
		{
			name: "scale up: the missing slots are created, in type order",
			want: want(map[string]int{"web": 3, "worker": 2}),
			have: []docker.ContainerInfo{
				ctr("a", "shop.web.1", "web", 1, 2, "g2", "running", 32001),
			},
			up: "web.2 web.3 worker.1 worker.2",
		},
		{
			name: "scale down: the slots above the formation retire",
			want: want(map[string]int{"web": 1, "worker": 0}),
			have: []docker.ContainerInfo{
				ctr("c", "shop.web.3", "web", 3, 2, "g2", "running", 32003),
				ctr("b", "shop.web.2", "web", 2, 2, "g2", "running", 32002),
				ctr("a", "shop.web.1", "web", 1, 2, "g2", "running", 32001),
				ctr("w", "shop.worker.1", "worker", 1, 2, "g2", "running", 0),
			},
			retire: "c b w",
		},
		{
			name: "stopped containers start again (ps:start, a host reboot)",
			want: want(map[string]int{"web": 1, "worker": 1}),
			have: []docker.ContainerInfo{
				ctr("a", "shop.web.1", "web", 1, 2, "g2", "exited", 0),
				ctr("b", "shop.worker.1", "worker", 1, 2, "g2", "restarting", 0),
			},
			up: "web.1=a",
		},
		{
			name: "a type the release no longer runs retires",
			want: want(map[string]int{"web": 1}),
			have: []docker.ContainerInfo{
				ctr("a", "shop.web.1", "web", 1, 2, "g2", "running", 32001),
				ctr("x", "shop.clock.1", "clock", 1, 2, "g2", "running", 0),
			},
			retire: "x",
		},
		{
			name: "two containers claim a slot: the newest keeps it",
			want: want(map[string]int{"web": 1}),
			have: []docker.ContainerInfo{
				ctr("new", "shop.web.1", "web", 1, 2, "g2", "running", 32002),
				ctr("old", "shop.web.1.x", "web", 1, 2, "g2", "running", 32001),
			},
			retire: "old",
		},
		{
			name: "other releases and generations stay without tidy",
			want: want(map[string]int{"web": 1}),
			have: []docker.ContainerInfo{
				ctr("n", "shop.web.1.upcoming-3-g3", "web", 1, 3, "g3", "running", 32003),
				ctr("a", "shop.web.1", "web", 1, 2, "g2", "running", 32001),
				ctr("o", "shop.web.1.1699999999", "web", 1, 1, "g1", "running", 32000),
			},
		},
		{
			name: "tidy (daemon start): an interrupted deploy's containers retire",
			want: want(map[string]int{"web": 1}),
			have: []docker.ContainerInfo{
				ctr("n", "shop.web.1.upcoming-3-g3", "web", 1, 3, "g3", "running", 32003),
				ctr("a", "shop.web.1", "web", 1, 2, "g2", "running", 32001),
			},
			tidy:   true,
			retire: "n",
		},
		{
			name: "crash recovery: a daemon stopped mid-switch, names follow labels",
			want: want(map[string]int{"web": 1}),
			have: []docker.ContainerInfo{
				ctr("new", "shop.web.1.upcoming-2-g2", "web", 1, 2, "g2", "running", 32002),
				ctr("old", "shop.web.1", "web", 1, 1, "g1", "running", 32001),
			},
			tidy:    true,
			retire:  "old",
			renames: "old:shop.web.1>shop.web.1.1700000000 new:shop.web.1.upcoming-2-g2>shop.web.1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := diff(naming.Names{}, tc.want, tc.have, tc.tidy, epoch)
			if got := upList(p); got != tc.up {
				t.Errorf("up = %q, want %q", got, tc.up)
			}
			if got := idList(p.retire); got != tc.retire {
				t.Errorf("retire = %q, want %q", got, tc.retire)
			}
			if got := renameList(p.renames); got != tc.renames {
				t.Errorf("renames = %q, want %q", got, tc.renames)
			}
		})
	}
}

func TestDrainAddrs(t *testing.T) {
	cs := []docker.ContainerInfo{
		ctr("a", "shop.web.2", "web", 2, 1, "g", "running", 32002),
		ctr("b", "shop.web.3", "web", 3, 1, "g", "exited", 32003),
		ctr("c", "shop.worker.1", "worker", 1, 1, "g", "running", 0),
	}
	if got := strings.Join(drainAddrs(cs), " "); got != "127.0.0.1:32002" {
		t.Errorf("drainAddrs = %q", got)
	}
}

func (h *harness) formation() map[string]int {
	h.t.Helper()
	a := h.app()
	var f map[string]int
	h.tx(func(tx *store.Tx) (err error) { f, err = tx.Formation(a); return err })
	return f
}

func TestScaleUpAndDown(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	ctx := context.Background()
	res, err := h.d.Scale(ctx, "shop", map[string]int{"web": 3}, false, h.out, "ps:scale")
	if err != nil || res.Formation["web"] != 3 || !res.Deployed {
		t.Fatalf("scale up: %+v, %v", res, err)
	}
	if got := h.eng.names(); got != "shop.web.1=running shop.web.2=running shop.web.3=running shop.worker.1=running" {
		t.Errorf("after scale up: %s", got)
	}
	h.router.drained = nil
	if _, err := h.d.Scale(ctx, "shop", map[string]int{"web": 1, "worker": 0}, false, h.out, "ps:scale"); err != nil {
		t.Fatal(err)
	}
	if got := h.eng.names(); got != "shop.web.1=running" {
		t.Errorf("after scale down: %s", got)
	}
	if len(h.router.drained) != 1 || len(h.router.drained[0]) != 2 {
		t.Errorf("drained = %v, want web.2 and web.3", h.router.drained)
	}
	if !strings.Contains(h.out.String(), "Removing shop.web.3") {
		t.Errorf("output:\n%s", h.out)
	}
}

// New containers of a scale that fail their checks go, and the formation
// goes back.
func TestScaleUpFailsChecks(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	h.eng.crash = map[string]int{"/bin/work": 1}
	_, err := h.d.Scale(context.Background(), "shop", map[string]int{"worker": 2}, false, h.out, "ps:scale")
	stepError(t, err, "check")
	if got := h.formation(); got["worker"] != 1 {
		t.Errorf("formation = %v, want worker back at 1", got)
	}
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" {
		t.Errorf("containers = %s", got)
	}
}

func TestScaleSkipDeployAndLocked(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	if _, err := h.d.Scale(context.Background(), "shop", map[string]int{"web": 2}, true, h.out, "ps:scale"); err != nil {
		t.Fatal(err)
	}
	if h.formation()["web"] != 2 || strings.Contains(h.eng.names(), "web.2") {
		t.Errorf("skip-deploy: formation %v, containers %s", h.formation(), h.eng.names())
	}
	unlock, err := h.d.Lock(context.Background(), "shop", "a test")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = h.d.Scale(context.Background(), "shop", map[string]int{"web": 1}, false, h.out, "ps:scale")
	if !errors.Is(err, app.ErrLocked) || !strings.Contains(err.Error(), "shop is being deployed by a test since") {
		t.Errorf("err = %v", err)
	}
}

// Redeploy starts new containers of the live release (no new release, no
// build, no predeploy) and retires the old ones.
func TestRedeploy(t *testing.T) {
	h := newHarness(t)
	ok, err := h.d.Redeploy(context.Background(), "shop", h.out, "config:set")
	if ok || err != nil {
		t.Fatalf("redeploy of an app never deployed = %v, %v", ok, err)
	}
	h.mustDeploy("Procfile", procfile, "app.json", predeployJSON)
	old := h.eng.byName()["shop.web.1"].ID
	builds, commits := len(h.eng.buildOpts), len(h.eng.callsMatching("commit "))
	h.out.Reset()
	ok, err = h.d.Redeploy(context.Background(), "shop", h.out, "config:set")
	if !ok || err != nil {
		t.Fatalf("redeploy = %v, %v", ok, err)
	}
	if !strings.Contains(h.out.String(), "Releasing shop (release 1, new containers): web=1") {
		t.Errorf("redeploy output lacks Dokku's Releasing line:\n%s", h.out)
	}
	if len(h.releases()) != 1 || len(h.eng.buildOpts) != builds || len(h.eng.callsMatching("commit ")) != commits {
		t.Error("a redeploy made a release, built or ran predeploy")
	}
	if h.eng.byName()["shop.web.1"].ID == old {
		t.Error("web.1 was not replaced")
	}
	// A redeploy whose image is gone says how to rebuild.
	h.eng.RemoveImage(context.Background(), "berth/shop:1", true)
	_, err = h.d.Redeploy(context.Background(), "shop", h.out, "ps:restart")
	if se := stepError(t, err, "release"); !strings.Contains(se.Error(), "is gone from the engine; rebuild with ps:rebuild shop") {
		t.Errorf("err = %v", err)
	}
	if rels := h.releases(); rels[0].Status != store.ReleaseLive {
		t.Error("a failed redeploy marked the live release failed")
	}
}

// Rollback deploys an earlier release's image and config again, as a new
// release, through start, check and switch, without a build.
func TestRollback(t *testing.T) {
	h := newHarness(t)
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetConfig(a.Scope(), map[string]string{"V": "1"}) })
	h.mustDeploy(twoTypes...)
	h.tx(func(tx *store.Tx) error { return tx.SetConfig(a.Scope(), map[string]string{"V": "2", "NEW": "x"}) })
	h.mustDeploy("Procfile", "web: /bin/web2\n")
	builds := len(h.eng.buildOpts)
	rel, err := h.d.Rollback(context.Background(), "shop", 0, h.out, "releases:rollback")
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, h.out)
	}
	if rel.Number != 3 || rel.RollbackOf != 1 || len(h.eng.buildOpts) != builds {
		t.Errorf("release %d rollback of %d, builds %d", rel.Number, rel.RollbackOf, len(h.eng.buildOpts)-builds)
	}
	if cfg := h.config(); cfg["V"] != "1" || cfg["NEW"] != "" {
		t.Errorf("config = %v, want release 1's", cfg)
	}
	if got := h.eng.byName()["shop.web.1"].spec.Cmd; strings.Join(got, " ") != "/bin/web" {
		t.Errorf("web runs %q, want release 1's command", got)
	}
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" {
		t.Errorf("containers = %s", got)
	}
	if len(h.eng.callsMatching("tag berth/shop:1 berth/shop:3")) != 1 {
		t.Errorf("tags = %q", h.eng.callsMatching("tag "))
	}
}

func TestRollbackRefused(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.d.Rollback(ctx, "shop", 0, io.Discard, "t"); !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), "has not been deployed") {
		t.Errorf("never deployed: %v", err)
	}
	h.mustDeploy(twoTypes...)
	h.eng.buildErr = errors.New("build failed")
	h.deploy(twoTypes...)
	h.eng.buildErr = nil
	for _, tc := range []struct {
		n    int
		kind error
		msg  string
	}{
		{0, app.ErrInvalid, "shop has no earlier release that was live"},
		{9, app.ErrNotFound, "shop has no release 9; see releases shop"},
		{1, app.ErrInvalid, "Release 1 is already live"},
		{2, app.ErrInvalid, "Release 2 never went live (failed)"},
	} {
		_, err := h.d.Rollback(ctx, "shop", tc.n, io.Discard, "t")
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("rollback %d: %v, want %q", tc.n, err, tc.msg)
		}
	}
	// An image that was pruned: refused, nothing changed.
	h.mustDeploy(twoTypes...)
	h.eng.RemoveImage(ctx, "berth/shop:1", true)
	n := len(h.releases())
	if _, err := h.d.Rollback(ctx, "shop", 1, io.Discard, "t"); !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), "is no longer kept") {
		t.Errorf("pruned: %v", err)
	}
	if len(h.releases()) != n {
		t.Error("a refused rollback made a release")
	}
}

// Errors before any step: a missing app, a locked app, a busy app, and an
// absent engine, each the domain error the daemon maps.
func TestDeployRefused(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	_, err := h.d.Deploy(ctx, "nope", h.source(), io.Discard, "t")
	if !errors.Is(err, store.ErrAppNotFound) || err.Error() != "App nope does not exist" {
		t.Errorf("missing app: %v", err)
	}
	a := h.app()
	h.tx(func(tx *store.Tx) error { return tx.SetLocked(a, true) })
	_, err = h.deploy(twoTypes...)
	if !errors.Is(err, app.ErrLocked) || !strings.Contains(err.Error(), "locked for deployment (apps:lock); run apps:unlock shop") {
		t.Errorf("locked app: %v", err)
	}
	h.tx(func(tx *store.Tx) error { return tx.SetLocked(a, false) })
	h.engErr = errors.New("Cannot connect to the Docker Engine: " + docker.ErrEngineUnavailable.Error())
	h.engErr = errors.Join(h.engErr, docker.ErrEngineUnavailable)
	_, err = h.deploy(twoTypes...)
	if !errors.Is(err, docker.ErrEngineUnavailable) {
		t.Errorf("engine down: %v", err)
	}
	if len(h.releases()) != 0 {
		t.Error("a refused deploy made a release")
	}
}

func stepNames(ss []step) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.name)
	}
	return strings.Join(out, " ")
}

// The steps of a deploy, a redeploy (config:set, ps:restart) and a
// rollback. snapshot and restore-data run only when they have work (see
// run): a deploy that runs a predeploy or release command of an app with
// linked databases, a rollback --with-data.
func TestPipeline(t *testing.T) {
	for _, tc := range []struct {
		redeploy, rollback bool
		want               string
	}{
		{false, false, "source build release env snapshot predeploy release-command restore-data start check switch drain retire postdeploy"},
		{true, false, "release start check switch drain retire"},
		{false, true, "source build release restore-data start check switch drain retire postdeploy"},
	} {
		if got := stepNames(pipeline(tc.redeploy, tc.rollback)); got != tc.want {
			t.Errorf("pipeline(redeploy %v, rollback %v) = %s, want %s", tc.redeploy, tc.rollback, got, tc.want)
		}
	}
}

// A release without a Procfile runs every type with the image's CMD: ps:scale
// starts a type it never had (Dokku's Dockerfile apps), says so, leaves web
// alone, and the type stays at the next deploy.
func TestScaleTypeOfImageCMD(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy()
	h.out.Reset()
	res, err := h.d.Scale(context.Background(), "shop", map[string]int{"worker": 2}, false, h.out, "ps:scale")
	if err != nil || res.Formation["worker"] != 2 {
		t.Fatalf("scale worker=2: %+v, %v\n%s", res, err, h.out)
	}
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running shop.worker.2=running" {
		t.Errorf("containers = %s", got)
	}
	if out := h.out.String(); !strings.Contains(out, "Deploying worker: starting 2") || strings.Contains(out, "Deploying web") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := h.d.Scale(context.Background(), "shop", map[string]int{"release": 1}, false, h.out, "ps:scale"); err == nil {
		t.Error("scaled release, which never runs as a process")
	}
	h.mustDeploy()
	if got := h.eng.names(); !strings.Contains(got, "shop.worker.2=running") {
		t.Errorf("after a redeploy: %s", got)
	}
}

// countStarts makes the engine's starts take 50 ms and returns the most
// that were in flight at once.
func countStarts(f *fakeEngine) func() int32 {
	var running, most atomic.Int32
	f.onStart = func(string) {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		running.Add(-1)
	}
	return most.Load
}

// A deploy's start step and ps:scale create and start a type's containers
// at once (4 at most), not one after another; the output
// still names them in order.
func TestContainersOfATypeStartAtOnce(t *testing.T) {
	h := newHarness(t)
	most := countStarts(h.eng)
	h.mustDeploy("Procfile", "web: /bin/web\n", "DOKKU_SCALE", "web=3\n")
	if m := most(); m < 2 || m > startConcurrency {
		t.Errorf("deploy of web=3: at most %d starts at once; want 2..%d", m, startConcurrency)
	}
	if out := h.out.String(); !strings.Contains(out, "Starting web.1\n-----> Starting web.2\n-----> Starting web.3\n") {
		t.Errorf("output:\n%s", out)
	}
	h.d.WaitRetired()
	most = countStarts(h.eng)
	if _, err := h.d.Scale(context.Background(), "shop", map[string]int{"web": 6}, false, h.out, "ps:scale"); err != nil {
		t.Fatal(err)
	}
	if m := most(); m < 2 || m > startConcurrency {
		t.Errorf("ps:scale web=6: at most %d starts at once; want 2..%d", m, startConcurrency)
	}
	if got := strings.Count(h.eng.names(), "=running"); got != 6 {
		t.Errorf("containers after ps:scale web=6: %s", h.eng.names())
	}
}
