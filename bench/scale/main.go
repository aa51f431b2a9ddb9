// Command scale measures Berth with many apps: a real `berth serve` daemon
// and its proxy on a temporary data dir, apps deployed from the test app's
// image with several domains each (200 × 5 by default). It measures
//
//   - a host reboot: with the first -restore apps deployed, the daemon is
//     stopped, its proxy and every app container killed, and the daemon
//     started as at boot: the time until every app answers through the
//     proxy;
//   - routing throughput (wrk through the proxy) with requests spread over
//     every domain, against one app with one domain, in alternating rounds;
//   - the time from `domains:add` (the command returning) to the new
//     domain being served, with every domain present;
//   - TLS handshakes per second with -certs certificates (one per app,
//     self-signed, `certs:add`), rotating SNI, against Debian's nginx
//     serving the same certificates.
//
// Run it with `bench/run scale`; see bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/berthpaas/berth/bench/internal/benchenv"
	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/proxy"
)

var (
	out      = flag.String("out", "", "write the markdown report here (default: stdout)")
	nApps    = flag.Int("apps", 200, "apps deployed")
	nDomains = flag.Int("domains", 5, "domains per app")
	nRestore = flag.Int("restore", 50, "apps deployed when the host reboot is simulated (at most -apps; 0: skip)")
	nCerts   = flag.Int("certs", 100, "apps given a certificate for the TLS handshake figure (at most -apps; 0: skip)")
	nAdds    = flag.Int("adds", 10, "domains:add samples")
	rounds   = flag.Int("rounds", 3, "rounds of the throughput and handshake runs (each target once per round)")
	duration = flag.Duration("duration", 5*time.Second, "length of one throughput or handshake run")
	conns    = flag.Int("conns", 32, "wrk connections")
	threads  = flag.Int("threads", 2, "wrk threads")
	workers  = flag.Int("workers", 16, "handshake workers (connections opened one after another each)")
	parallel = flag.Int("parallel", 3, "deploys at a time")
)

const domainSuffix = ".scale.test"

func appName(i int) string { return fmt.Sprintf("s%03d", i) }

func domainsOf(app string) []string {
	if app == "solo" {
		return []string{"solo" + domainSuffix}
	}
	d := make([]string, *nDomains)
	for k := range d {
		d[k] = fmt.Sprintf("%s-%d%s", app, k+1, domainSuffix)
	}
	return d
}

func main() {
	benchenv.Prog = "scale"
	flag.Parse()
	*nRestore, *nCerts = min(*nRestore, *nApps), min(*nCerts, *nApps)
	if *nApps < 1 || *nDomains < 1 || *rounds < 1 || *duration <= 0 || *nRestore < 0 || *nCerts < 0 || *nAdds < 0 {
		benchenv.Fail("nothing to run: -apps, -domains, -rounds and -duration must be positive")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { s := <-sigs; benchenv.Fail("interrupted (%v): cleaning up", s) }()

	r := &report{began: time.Now(), load0: benchenv.Loadavg(), adds: map[string][]addSample{}}
	benchenv.Logf("building berth, the test app and its image")
	e := benchenv.New("scale")
	e.BuildImage()
	e.Start()

	benchenv.Logf("deploying solo (one domain) and measuring it alone")
	e.Deploy([]string{"solo"}, domainsOf, 1)
	waitServed(e.HTTPAddr, domainsOf("solo"), 30*time.Second)
	r.soloAlone = throughput(e, domainsOf("solo"), *rounds)

	deployed := 0
	deployTo := func(n int) {
		if n <= deployed {
			return
		}
		benchenv.Logf("deploying apps %d to %d (%d domains each)", deployed+1, n, *nDomains)
		var names []string
		for i := deployed + 1; i <= n; i++ {
			names = append(names, appName(i))
		}
		t0 := time.Now()
		e.Deploy(names, domainsOf, *parallel)
		r.deploys = append(r.deploys, deployRun{n - deployed, time.Since(t0)})
		deployed = n
	}
	if *nRestore > 0 {
		deployTo(*nRestore)
		r.restore = reboot(e, append([]string{"solo"}, names(*nRestore)...))
	}
	deployTo(*nApps)
	var all []string
	for _, a := range names(*nApps) {
		all = append(all, domainsOf(a)...)
	}
	waitServed(e.HTTPAddr, all, 60*time.Second)
	r.domains = len(all) + 1

	benchenv.Logf("throughput: solo against %d domains, %d rounds", len(all), *rounds)
	for range *rounds {
		r.solo = append(r.solo, throughput(e, domainsOf("solo"), 1)...)
		r.spread = append(r.spread, throughput(e, all, 1)...)
	}

	benchenv.Logf("domains:add with %d domains present, %d samples of each way", r.domains, *nAdds)
	for k := range *nAdds {
		a := appName(k%*nApps + 1)
		for _, w := range addWays {
			r.adds[w] = append(r.adds[w], addDomain(e, w, a, fmt.Sprintf("added-%s-%d%s", w, k, domainSuffix)))
		}
	}

	if *nCerts > 0 {
		r.tls = tlsBench(e, *nCerts)
	}
	r.took = time.Since(r.began)
	text := r.markdown()
	benchenv.Cleanup()
	if *out == "" {
		fmt.Print(text)
	} else if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func names(n int) []string {
	var s []string
	for i := 1; i <= n; i++ {
		s = append(s, appName(i))
	}
	return s
}

// throughput runs wrk rounds times against the proxy, the requests
// spread over hosts.
func throughput(e *benchenv.Env, hosts []string, rounds int) []wrkResult {
	var rs []wrkResult
	for range rounds {
		res, err := runWrk(e.Dir, e.HTTPAddr, hosts, *threads, *conns, *duration)
		if err != nil {
			benchenv.Fail("%v", err)
		}
		benchenv.Logf("  %4d host(s): %8.0f req/s  p50 %v  p99 %v  errors %d", len(hosts), res.rps(), res.p50, res.p99, res.errors)
		rs = append(rs, res)
	}
	return rs
}

var client = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// served reports whether the proxy at addr answers host with a 200.
func served(addr, host string) bool {
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// waitServed waits until every host answers 200 through the proxy.
func waitServed(addr string, hosts []string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, h := range hosts {
		for !served(addr, h) {
			if time.Now().After(deadline) {
				benchenv.Fail("%s is not served by the proxy at %s after %v", h, addr, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// addSample is one route change: when the change returned and when the
// new domain was first served, both from the change's start.
type addSample struct{ returned, served time.Duration }

// The ways a domain is added, from the user's down to the proxy's.
const (
	addCLI   = "cli"   // `berth domains:add`: a new client process, the daemon, the proxy
	addAPI   = "api"   // the daemon's domains.update over its socket, from the bench's process
	addProxy = "proxy" // the proxy's PUT /v1/routes/APP alone (the daemon and its store left out)
)

var addWays = []string{addCLI, addAPI, addProxy}

func addDomain(e *benchenv.Env, way, app, host string) addSample {
	if served(e.HTTPAddr, host) {
		benchenv.Fail("%s is served before it was added", host)
	}
	ctx := context.Background()
	var rt proxy.Route
	if way == addProxy {
		routes, err := proxy.NewClient(filepath.Join(e.Data, "proxy.sock")).Routes(ctx)
		i := slices.IndexFunc(routes, func(r proxy.Route) bool { return r.App == app })
		if err != nil || i < 0 {
			benchenv.Fail("the proxy's route of %s: %v", app, err)
		}
		rt = routes[i]
		rt.Hosts = append(rt.Hosts, host)
	}
	t0 := time.Now()
	switch way {
	case addCLI:
		e.Must("domains:add", app, host)
	case addAPI:
		_, err := api.DomainsUpdate.Call(ctx, api.NewClient(filepath.Join(e.Data, "berth.sock")),
			api.DomainsChange{Scope: api.Scope{App: app}, Action: api.DomainsAdd, Domains: []string{host}})
		if err != nil {
			benchenv.Fail("domains.update %s %s: %v", app, host, err)
		}
	case addProxy:
		if err := proxy.NewClient(filepath.Join(e.Data, "proxy.sock")).SetRoute(ctx, rt); err != nil {
			benchenv.Fail("set the proxy's route of %s: %v", app, err)
		}
	}
	s := addSample{returned: time.Since(t0)}
	for deadline := t0.Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if served(e.HTTPAddr, host) {
			s.served = time.Since(t0)
			break
		}
		if time.Now().After(deadline) {
			benchenv.Fail("%s not served 10 s after it was added to %s (%s)", host, app, way)
		}
	}
	benchenv.Logf("  %-5s %s %s: returned after %v, served after %v", way, app, host, s.returned.Round(time.Microsecond), s.served.Round(time.Microsecond))
	return s
}

// restoreRun is one simulated host reboot.
type restoreRun struct {
	apps, containers int
	daemonUp         time.Duration // the daemon answering its socket
	all              time.Duration // every app answering through the proxy
	first, median    time.Duration
}

// reboot simulates a host reboot: the daemon stops, the proxy and every
// app container are killed (as the power going away would), then the
// daemon starts as at boot and restores the apps. It measures until every
// app answers through the proxy.
// rebootPoll is how often each app is asked for during a reboot. Every
// 10 ms, 51 pollers opened some 5,000 connections a second through the
// proxy: CPU the restore they measure (the engine starting containers)
// then did not have on 2 CPUs.
const rebootPoll = 100 * time.Millisecond

func reboot(e *benchenv.Env, apps []string) restoreRun {
	benchenv.Logf("reboot: %d apps", len(apps))
	e.StopDaemon()
	if pid := e.ProxyPID(); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
		for e.ProxyPID() != 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	ids := e.Containers()
	benchenv.Docker(append([]string{"kill"}, ids...)...)
	for _, a := range apps {
		if served(e.HTTPAddr, domainsOf(a)[0]) {
			benchenv.Fail("%s still answers after the simulated reboot", a)
		}
	}
	run := restoreRun{apps: len(apps), containers: len(ids)}
	t0 := time.Now()
	var (
		mu    sync.Mutex
		times []time.Duration
		wg    sync.WaitGroup
	)
	wg.Go(func() { run.daemonUp = e.Start() })
	for _, a := range apps {
		wg.Go(func() {
			h := domainsOf(a)[0]
			for deadline := t0.Add(3 * time.Minute); !served(e.HTTPAddr, h); time.Sleep(rebootPoll) {
				if time.Now().After(deadline) {
					benchenv.Fail("%s does not answer 3 minutes after the daemon started; see %s", a, filepath.Join(e.Data, "daemon.log"))
				}
			}
			mu.Lock()
			times = append(times, time.Since(t0))
			mu.Unlock()
		})
	}
	wg.Wait()
	sortDurations(times)
	run.all, run.first, run.median = times[len(times)-1], times[0], times[len(times)/2]
	benchenv.Logf("  daemon up after %v, first app after %v, all %d after %v", run.daemonUp.Round(time.Millisecond),
		run.first.Round(time.Millisecond), len(apps), run.all.Round(time.Millisecond))
	return run
}

// tlsBench gives the first n apps a certificate each (for their domains),
// starts nginx with the same certificates and alternates handshake runs.
func tlsBench(e *benchenv.Env, n int) *tlsRun {
	benchenv.Logf("TLS: %d certificates", n)
	dir := filepath.Join(e.Dir, "certs")
	os.MkdirAll(dir, 0o755)
	var sites []siteCert
	var hosts []string
	for _, a := range names(n) {
		c, k := writeCert(dir, a, domainsOf(a))
		e.Must("certs:add", a, c, k)
		sites = append(sites, siteCert{hosts: domainsOf(a), cert: c, key: k})
		hosts = append(hosts, domainsOf(a)...)
	}
	ng := startNginx(e.Dir, sites)
	waitTLS(e.HTTPSAddr, hosts, "berth")
	waitTLS(ng.addr, hosts, "nginx")
	run := &tlsRun{certs: n, hosts: len(hosts)}
	for range *rounds {
		for _, t := range []struct {
			name, addr string
			res        *[]tlsResult
		}{{"berth", e.HTTPSAddr, &run.berth}, {"nginx", ng.addr, &run.nginx}} {
			res := handshakeLoad(t.addr, hosts, *workers, *duration)
			benchenv.Logf("  %-6s %7.0f handshakes/s  failed %d %s", t.name, res.rate(), res.failed, res.firstErr)
			*t.res = append(*t.res, res)
		}
	}
	ng.stop()
	return run
}
