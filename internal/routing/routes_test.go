package routing

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/store"
)

func TestWebTargets(t *testing.T) {
	cs := []WebContainer{
		{Name: "shop.web.2", Index: 2, Generation: "g1", HostPort: 4002},
		{Name: "shop.web.1", Index: 1, Generation: "g1", HostPort: 4001},
		{Name: "shop.web.3", Index: 3, Generation: "g1", HostPort: 4003}, // beyond the formation
		{Name: "shop.web.1.upcoming", Index: 1, Generation: "g0", HostPort: 4004},
		{Name: "shop.web.0", Index: 0, Generation: "g1", HostPort: 4005}, // no index label
		{Name: "shop.web.2.nat", Index: 2, Generation: "g1"},             // no published port
	}
	got := webTargets(cs, 2, "g1")
	want := []proxy.Target{{Addr: "127.0.0.1:4001", Container: "shop.web.1"}, {Addr: "127.0.0.1:4002", Container: "shop.web.2"}}
	if !slices.Equal(got, want) {
		t.Errorf("webTargets = %v, want %v", got, want)
	}
	if cs[0].Name != "shop.web.2" {
		t.Error("webTargets reordered its argument")
	}
	if got := webTargets(nil, 1, ""); got == nil || len(got) != 0 {
		t.Errorf("no containers: %#v (want an empty list, not nil)", got)
	}
}

func TestLiveness(t *testing.T) {
	zero, two := 0, 2
	l := liveness(&appfile.Healthcheck{Path: "/up", Content: "ok", Wait: &zero, Attempts: &two}, []string{"*.shop.test", "shop.test"})
	want := proxy.Liveness{Path: "/up", Content: "ok", Host: "shop.test", Interval: time.Second, Timeout: appfile.DefaultTimeout * time.Second, Failures: 2, Successes: 1}
	if *l != want {
		t.Errorf("liveness = %+v, want %+v", *l, want)
	}
	l = liveness(&appfile.Healthcheck{Path: "/up", HTTPHeaders: []appfile.HTTPHeader{{Name: "Host", Value: "probe.test"}}}, []string{"shop.test"})
	if l.Host != "probe.test" || l.Interval != appfile.DefaultWait*time.Second || l.Failures != appfile.DefaultAttempts {
		t.Errorf("liveness with a Host header = %+v", *l)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "10k": 10 << 10, "100m": 100 << 20, "1G": 1 << 30} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1m", "10x", "m"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestRouteOfAnAppNotDeployed(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.test", "www.shop.test")})
	r, err := e.m.route(e.ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !eq(r.Hosts, list("shop.test", "www.shop.test")) || len(r.Targets) != 0 || r.Targets == nil || r.TLS != nil || r.Liveness != nil {
		t.Errorf("route = %+v", r)
	}
	if r.MaxBodyBytes != 100<<20 || r.UpstreamTimeout != 60*time.Second {
		t.Errorf("default proxy settings: %d, %v", r.MaxBodyBytes, r.UpstreamTimeout)
	}
	if len(e.backends.asked) != 0 {
		t.Errorf("the engine was asked for an app without a release: %v", e.backends.asked)
	}
	if _, err := e.m.route(e.ctx, "ghost"); errCode(err) != api.CodeAppNotFound {
		t.Errorf("route of a missing app: %v", err)
	}
}

func TestRouteFromAppState(t *testing.T) {
	e := newEnv(t, nil)
	a := e.createApp("shop")
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsSet, Domains: list("shop.test", "www.shop.test")})
	rel := e.deploy(a, 2)
	e.tx(func(tx *store.Tx) error {
		if err := tx.SetProperty(a.Scope(), "ps", "generation", "g7"); err != nil {
			return err
		}
		if err := tx.SetProperty(a.Scope(), "proxy", "client-max-body-size", "1m"); err != nil {
			return err
		}
		if err := tx.SetProperty(store.Global, "proxy", "proxy-read-timeout", "2m"); err != nil {
			return err
		}
		if err := tx.SetProperty(store.Global, "proxy", "hsts-max-age", "60"); err != nil {
			return err
		}
		return tx.SetProperty(a.Scope(), "proxy", "hsts-preload", "true")
	})
	e.backends.containers["shop/"+strconv.Itoa(rel.Number)] = []WebContainer{
		{Name: "shop.web.1", Index: 1, Generation: "g7", HostPort: 4001},
		{Name: "shop.web.2", Index: 2, Generation: "g6", HostPort: 4002},
	}
	e.backends.liveness["shop"] = &appfile.Healthcheck{Path: "/health"}
	// The bare domain redirects to www: it leaves the route's hosts but the
	// certificate covers it.
	if _, err := api.RedirectsSet.Call(e.ctx, e.mux, api.RedirectSet{App: "shop", Src: "shop.test", Dest: "www.shop.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CertsGenerate.Call(e.ctx, e.mux, api.CertGenerate{App: "shop"}); err != nil {
		t.Fatal(err)
	}
	r, ok := e.proxy.route("shop")
	if !ok {
		t.Fatal("no route pushed")
	}
	if !eq(r.Hosts, list("www.shop.test")) || !slices.Equal(r.Redirects, []proxy.Redirect{{From: "shop.test", To: "www.shop.test", Code: 301}}) {
		t.Errorf("hosts %v, redirects %v", r.Hosts, r.Redirects)
	}
	if !slices.Equal(r.Targets, []proxy.Target{{Addr: "127.0.0.1:4001", Container: "shop.web.1"}}) {
		t.Errorf("targets = %v (want only the current generation's)", r.Targets)
	}
	if r.MaxBodyBytes != 1<<20 || r.UpstreamTimeout != 2*time.Minute {
		t.Errorf("proxy settings: %d, %v", r.MaxBodyBytes, r.UpstreamTimeout)
	}
	if r.TLS == nil || r.TLS.CertPEM == "" || !r.TLS.RedirectHTTP || r.TLS.HSTS == nil ||
		*r.TLS.HSTS != (proxy.HSTS{MaxAge: time.Minute, Preload: true}) {
		t.Errorf("tls = %+v", r.TLS)
	}
	if r.Liveness == nil || r.Liveness.Path != "/health" || r.Liveness.Host != "www.shop.test" {
		t.Errorf("liveness = %+v", r.Liveness)
	}
	info, _ := api.CertsInfo.Call(e.ctx, e.mux, api.CertShow{App: "shop"})
	if !eq(info.Domains, list("shop.test", "www.shop.test")) {
		t.Errorf("certificate covers %v", info.Domains)
	}

	// HSTS off; a stopped app keeps its hosts but has no targets.
	e.tx(func(tx *store.Tx) error {
		if err := tx.SetProperty(a.Scope(), "proxy", "hsts", "false"); err != nil {
			return err
		}
		return tx.SetStopped(a, true)
	})
	if err := e.m.Sync(e.ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	r, _ = e.proxy.route("shop")
	if r.TLS == nil || r.TLS.HSTS != nil || len(r.Targets) != 0 || !eq(r.Hosts, list("www.shop.test")) {
		t.Errorf("stopped app's route: %+v", r)
	}
}

func TestSyncErrors(t *testing.T) {
	e := newEnv(t, nil)
	a := e.createApp("shop")
	e.deploy(a, 1)
	e.backends.err = errors.New("engine down")
	if err := e.m.Sync(e.ctx, "shop"); err == nil || err.Error() != "engine down" {
		t.Errorf("Sync with the engine down: %v", err)
	}
	e.backends.err = nil
	e.proxy.fail = errors.New("proxy down")
	if err := e.m.Sync(e.ctx, "shop"); err == nil || !errors.Is(err, e.proxy.fail) {
		t.Errorf("Sync with the proxy down: %v", err)
	}
	// Notify and DropRoute only log.
	e.m.Notify(e.ctx, "shop")
	e.m.DropRoute(e.ctx, "shop")
}

func TestSyncAllKeepsAppsWhoseTargetsAreUnknownWithoutTargets(t *testing.T) {
	e := newEnv(t, nil)
	a := e.createApp("shop")
	e.createApp("blog")
	e.deploy(a, 1)
	e.proxy.routes["gone"] = proxy.Route{App: "gone"}
	// The proxy still holds shop's old target (a host port that may
	// belong to another container now).
	e.proxy.routes["shop"] = proxy.Route{App: "shop", Targets: []proxy.Target{{Addr: "127.0.0.1:4001"}}}
	e.backends.err = errors.New("engine down") // only shop asks the engine
	if err := e.m.SyncAll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.proxy.route("gone"); ok || e.proxy.replaced != 1 {
		t.Errorf("SyncAll did not replace the table: %v", e.proxy.routes)
	}
	if _, ok := e.proxy.route("blog"); !ok {
		t.Error("blog has no route")
	}
	// shop keeps its hosts (503, not 404 or another app) and loses its
	// targets until they can be listed.
	r, ok := e.proxy.route("shop")
	if !ok || len(r.Targets) != 0 {
		t.Errorf("shop's route = %+v, %v; want its hosts and no targets", r, ok)
	}
	e.backends.err = nil
	e.backends.containers["shop/1"] = []WebContainer{{Name: "shop.web.1", Index: 1, HostPort: 4002}}
	if err := e.m.SyncAll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.proxy.route("shop"); len(r.Targets) != 1 || r.Targets[0].Addr != "127.0.0.1:4002" {
		t.Errorf("after the engine came back shop's targets are %v", r.Targets)
	}
}

func TestTakeOutRemovesAStoppedContainerWithoutTheEngine(t *testing.T) {
	e := newEnv(t, nil)
	shop := e.createApp("shop")
	e.deploy(shop, 2)
	e.backends.containers["shop/1"] = []WebContainer{{Name: "shop.web.1", Index: 1, HostPort: 4001}, {Name: "shop.web.2", Index: 2, HostPort: 4002}}
	if err := e.m.Sync(e.ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	// The engine still lists web.1 (or does not answer): TakeOut does not ask it.
	e.backends.err = errors.New("engine shutting down")
	e.backends.asked = nil
	if err := e.m.TakeOut(e.ctx, "shop", "shop.web.1"); err != nil {
		t.Fatal(err)
	}
	r, _ := e.proxy.route("shop")
	if len(r.Targets) != 1 || r.Targets[0].Container != "shop.web.2" || len(e.backends.asked) != 0 {
		t.Errorf("after TakeOut(web.1): targets %v, engine asked %v", r.Targets, e.backends.asked)
	}
	if err := e.m.TakeOut(e.ctx, "shop", "shop.web.2"); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.proxy.route("shop"); len(r.Targets) != 0 {
		t.Errorf("after TakeOut(web.2): targets %v", r.Targets)
	}
	// An unknown container or app changes nothing.
	if err := e.m.TakeOut(e.ctx, "ghost", "ghost.web.1"); err != nil {
		t.Errorf("TakeOut of an app without a route: %v", err)
	}
}

func TestMarkUnavailableTakesEveryTargetOut(t *testing.T) {
	e := newEnv(t, nil)
	shop := e.createApp("shop")
	blog := e.createApp("blog")
	e.deploy(shop, 1)
	e.deploy(blog, 2)
	e.backends.containers["shop/1"] = []WebContainer{{Name: "shop.web.1", Index: 1, HostPort: 4001}}
	e.backends.containers["blog/1"] = []WebContainer{{Name: "blog.web.1", Index: 1, HostPort: 4002}, {Name: "blog.web.2", Index: 2, HostPort: 4003}}
	if err := e.m.SyncAll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.proxy.route("blog"); len(r.Targets) != 2 {
		t.Fatalf("blog's targets before: %v", r.Targets)
	}
	e.backends.asked = nil
	if err := e.m.MarkUnavailable(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, app := range list("shop", "blog") {
		r, ok := e.proxy.route(app)
		if !ok || len(r.Targets) != 0 {
			t.Errorf("%s's route = %+v, %v; want its hosts, no targets", app, r, ok)
		}
	}
	if len(e.backends.asked) != 0 {
		t.Errorf("MarkUnavailable asked the engine: %v", e.backends.asked)
	}
}

// The engine lost on a swarm manager, then back with a swarm not ready,
// then listing no task: the app's tasks on other nodes
// keep their targets (that engine does not run them), this host's
// containers leave.
func TestTargetsOnOtherNodesOutliveTheManagersView(t *testing.T) {
	e := newEnv(t, nil)
	shop := e.createApp("shop")
	e.deploy(shop, 3)
	e.backends.containers["shop/1"] = []WebContainer{
		{Name: "shop.web.1", Index: 1, HostPort: 4001},
		{Name: "web.2", Index: 2, HostPort: 30002, Addr: "10.0.0.2:30002"},
		{Name: "web.3", Index: 3, HostPort: 30003, Addr: "10.0.0.3:30003"},
	}
	if err := e.m.SyncAll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.proxy.route("shop"); len(r.Targets) != 3 {
		t.Fatalf("targets before: %v", r.Targets)
	}
	if err := e.m.MarkUnavailable(e.ctx); err != nil {
		t.Fatal(err)
	}
	r, _ := e.proxy.route("shop")
	var got []string
	for _, tg := range r.Targets {
		got = append(got, tg.Addr)
	}
	if !eq(got, list("10.0.0.2:30002", "10.0.0.3:30003")) {
		t.Errorf("targets after the engine was lost: %v; want the other nodes' tasks only", got)
	}

	// The engine back, the swarm not yet: the tasks cannot be listed,
	// and those on other nodes stay rather than leave the app at 503.
	e.backends.err = errors.New("the swarm is not ready on this node")
	if err := e.m.SyncAll(e.ctx); err != nil {
		t.Fatal(err)
	}
	r, _ = e.proxy.route("shop")
	got = nil
	for _, tg := range r.Targets {
		got = append(got, tg.Addr)
	}
	if !eq(got, list("10.0.0.2:30002", "10.0.0.3:30003")) {
		t.Errorf("targets after SyncAll with the swarm not ready: %v; want the other nodes' tasks kept", got)
	}
	// Once listed, the engine's word again.
	e.backends.err = nil
	if err := e.m.SyncAll(e.ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.proxy.route("shop"); len(r.Targets) != 3 {
		t.Errorf("targets once the swarm is back: %v", r.Targets)
	}

	// The swarm back but listing no running web task (the manager
	// rescheduling the tasks of nodes it has not heard from yet): the
	// targets on other nodes stay until one runs; this host's go.
	e.backends.containers["shop/1"] = nil
	if err := e.m.Sync(e.ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	r, _ = e.proxy.route("shop")
	got = nil
	for _, tg := range r.Targets {
		got = append(got, tg.Addr)
	}
	if !eq(got, list("10.0.0.2:30002", "10.0.0.3:30003")) {
		t.Errorf("targets with no task listed: %v; want the other nodes' last targets", got)
	}
	e.backends.containers["shop/1"] = []WebContainer{{Name: "web.1", Index: 1, HostPort: 30009, Addr: "10.0.0.3:30009"}}
	if err := e.m.Sync(e.ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.proxy.route("shop"); len(r.Targets) != 1 || r.Targets[0].Addr != "10.0.0.3:30009" {
		t.Errorf("targets once a task runs again: %v", r.Targets)
	}
}

func TestDropRouteAndDrain(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	if err := e.m.Sync(e.ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	e.m.DropRoute(e.ctx, "shop")
	if _, ok := e.proxy.route("shop"); ok || !eq(e.proxy.deleted, list("shop")) {
		t.Errorf("route still there: %v", e.proxy.routes)
	}
	if n, err := e.m.Drain(e.ctx, []string{"127.0.0.1:4001"}, time.Second); n != 0 || err != nil || !eq(e.proxy.drained, list("127.0.0.1:4001")) {
		t.Errorf("Drain = %d, %v; drained %v", n, err, e.proxy.drained)
	}
}

func TestWithoutAProxyNothingIsPushed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Proxy = nil })
	a := e.createApp("shop")
	e.deploy(a, 1)
	if err := e.m.Sync(e.ctx, "shop"); err != nil {
		t.Errorf("Sync: %v", err)
	}
	if err := e.m.SyncAll(e.ctx); err != nil {
		t.Errorf("SyncAll: %v", err)
	}
	e.m.Notify(e.ctx, "shop")
	e.m.DropRoute(e.ctx, "shop")
	if n, err := e.m.Drain(e.ctx, []string{"x"}, time.Second); n != 0 || err != nil {
		t.Errorf("Drain: %d, %v", n, err)
	}
	// Domains still change; they are routed once a proxy runs.
	if _, err := e.domains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("shop.test")}); err != nil {
		t.Error(err)
	}
	if len(e.backends.asked) != 0 || len(e.proxy.routes) != 0 {
		t.Errorf("without a proxy: asked %v, routes %v", e.backends.asked, e.proxy.routes)
	}
}

// A domains change pushes the targets last pushed without asking the
// engine, as long as the app's release, generation and web count are
// those they were worked out for; a new release, a scale or a TakeOut
// make the next change ask again.
func TestDomainsChangeReusesTheTargetsPushed(t *testing.T) {
	e := newEnv(t, nil)
	shop := e.createApp("shop")
	rel := e.deploy(shop, 1)
	e.backends.containers["shop/"+strconv.Itoa(rel.Number)] = []WebContainer{{Name: "shop.web.1", Index: 1, HostPort: 4001}}
	if err := e.m.Sync(e.ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	asked := func() int {
		e.backends.mu.Lock()
		defer e.backends.mu.Unlock()
		n := len(e.backends.asked)
		e.backends.asked = nil
		return n
	}
	asked()
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("a.shop.test")})
	r, _ := e.proxy.route("shop")
	if n := asked(); n != 0 || !slices.Contains(r.Hosts, "a.shop.test") || len(r.Targets) != 1 || r.Targets[0].Addr != "127.0.0.1:4001" {
		t.Errorf("after domains:add: engine asked %d times, route %+v; want the host added, the target kept, the engine not asked", n, r)
	}

	// A new release: its containers are asked for.
	rel = e.deploy(shop, 1)
	e.backends.containers["shop/"+strconv.Itoa(rel.Number)] = []WebContainer{{Name: "shop.web.1", Index: 1, HostPort: 4002}}
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("b.shop.test")})
	if r, _ := e.proxy.route("shop"); asked() != 1 || len(r.Targets) != 1 || r.Targets[0].Addr != "127.0.0.1:4002" {
		t.Errorf("after a new release: route %+v, want the new container's target from the engine", r)
	}
	// TakeOut forgets them: the next change asks the engine again.
	if err := e.m.TakeOut(e.ctx, "shop", "shop.web.1"); err != nil {
		t.Fatal(err)
	}
	asked()
	e.mustDomains(api.DomainsChange{Scope: appScope("shop"), Action: api.DomainsAdd, Domains: list("c.shop.test")})
	if n := asked(); n != 1 {
		t.Errorf("after TakeOut, the engine was asked %d times by a domains change, want 1", n)
	}
}
