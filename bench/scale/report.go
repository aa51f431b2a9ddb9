package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/berthpaas/berth/bench/internal/benchenv"
)

type deployRun struct {
	apps int
	took time.Duration
}

type tlsRun struct {
	certs, hosts int
	berth, nginx []tlsResult
}

// report is what the run measured.
type report struct {
	began        time.Time
	took         time.Duration
	load0        string
	deploys      []deployRun
	domains      int
	soloAlone    []wrkResult            // one route in the table
	solo, spread []wrkResult            // with every app deployed, alternating
	adds         map[string][]addSample // by way: addCLI, addAPI, addProxy
	restore      restoreRun
	tls          *tlsRun
}

func sortDurations(d []time.Duration) { slices.Sort(d) }

// pctl is the nearest-rank percentile p (0-100] of sorted values.
func pctl(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted))-1e-9)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// wrkSummary is the median req/s, its range, the median p99 and the errors.
func wrkSummary(rs []wrkResult) (med, lo, hi float64, p50, p99 time.Duration, errs int) {
	var v []float64
	var l50, l99 []time.Duration
	for _, r := range rs {
		v = append(v, r.rps())
		l50, l99 = append(l50, r.p50), append(l99, r.p99)
		errs += r.errors
	}
	if len(v) == 0 {
		return
	}
	slices.Sort(l50)
	slices.Sort(l99)
	return medianOf(v), slices.Min(v), slices.Max(v), pctl(l50, 50), pctl(l99, 50), errs
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Scale\n\n")
	fmt.Fprintf(&b, "Run %s, %s long, %s/%s, %d CPUs. A real daemon and its proxy; %d apps deployed from the test app's image "+
		"(`git:from-image`, one web container each) with %d domains each, and one app `solo` with one domain. "+
		"Load average %s at the start, %s at the end.\n\n",
		r.began.UTC().Format("2006-01-02 15:04 UTC"), r.took.Round(time.Second), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		*nApps, *nDomains, r.load0, benchenv.Loadavg())
	for _, d := range r.deploys {
		fmt.Fprintf(&b, "- Deploying %d apps, %d at a time: %v (%.2f s per app).\n", d.apps, *parallel, d.took.Round(time.Second),
			d.took.Seconds()/float64(d.apps))
	}
	b.WriteString("\n")
	r.restoreSection(&b)
	r.throughputSection(&b)
	r.addSection(&b)
	r.tlsSection(&b)
	return b.String()
}

func (r *report) restoreSection(b *strings.Builder) {
	x := r.restore
	if x.apps == 0 {
		return
	}
	fmt.Fprintf(b, "### A host reboot (`ps:restore` at the daemon's start)\n\n"+
		"%d apps deployed; the daemon stopped, its proxy SIGKILLed and the apps' %d containers killed (`docker kill`: the engine "+
		"does not restart them), then the daemon started as at boot. Each app is asked for through the proxy every %v "+
		"(a new connection each). Times from that start:\n\n", x.apps, x.containers, rebootPoll)
	b.WriteString("| daemon answering | first app answering | half the apps | every app answering |\n|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %s | %s | %s | %s |\n\n", ms(x.daemonUp), ms(x.first), ms(x.median), ms(x.all))
	fmt.Fprintf(b, "**Goal**: 50 apps back serving within 30 s of a reboot: %s (%d apps in %.1f s).\n\n", met(x.all < 30*time.Second && x.apps >= 50), x.apps, x.all.Seconds())
}

func (r *report) throughputSection(b *strings.Builder) {
	fmt.Fprintf(b, "### Routing throughput\n\n"+
		"wrk -t%d -c%d -d%v, keep-alive, through Berth's proxy; rounds alternate between one host (`solo`) and every host of "+
		"the %d apps (each request the next Host of a list of %d, so consecutive requests go to different apps' containers). "+
		"The first row is `solo` measured earlier, before the other apps were deployed (one route in the table), not in the "+
		"alternating rounds: the machine's load may have moved in between, so compare it with care.\n\n",
		*threads, *conns, *duration, *nApps, *nApps**nDomains)
	b.WriteString("| load | req/s (median) | range | × solo | p50 | p99 | errors |\n|---|---:|---:|---:|---:|---:|---:|\n")
	soloMed, _, _, _, _, _ := wrkSummary(r.solo)
	row := func(name string, rs []wrkResult) {
		med, lo, hi, p50, p99, errs := wrkSummary(rs)
		ratio := "–"
		if soloMed > 0 {
			ratio = fmt.Sprintf("%.2f×", med/soloMed)
		}
		fmt.Fprintf(b, "| %s | %.0f | %.0f–%.0f | %s | %s | %s | %d |\n", name, med, lo, hi, ratio, ms(p50), ms(p99), errs)
	}
	row("solo, alone in the table", r.soloAlone)
	row(fmt.Sprintf("solo, %d domains in the table", r.domains), r.solo)
	row(fmt.Sprintf("spread over %d hosts of %d apps", *nApps**nDomains, *nApps), r.spread)
	b.WriteString("\nThe spread load reaches every app's container, so it pays for more upstream connections (each app's own pool) and " +
		"the containers' caches; the table lookup is a map access either way.\n\n")
}

func (r *report) addSection(b *strings.Builder) {
	if len(r.adds[addCLI]) == 0 {
		return
	}
	fmt.Fprintf(b, "### A route change with %d domains present\n\n"+
		"A new domain added to an app that has %d, %d samples of each way, the ways taking turns; from the change's start to its "+
		"return, and to the first 200 for the new host through the proxy (polled every millisecond, a new connection each). "+
		"`domains:add` is what a user runs: a new client process, the daemon's transaction, the route worked out (with the targets "+
		"last pushed: the engine is not asked) and pushed to the proxy, which writes its table to its state file (fsynced in the "+
		"background) and installs it. `domains.update` is the "+
		"same operation over the daemon's socket from the bench's process (no new process). The proxy alone is its control API's "+
		"`PUT /v1/routes/APP` with the route plus the host.\n\n", r.domains, *nDomains, len(r.adds[addCLI]))
	b.WriteString("| way | returned: median | p90 | served: median | p90 | max |\n|---|---:|---:|---:|---:|---:|\n")
	names := map[string]string{addCLI: "`berth domains:add`", addAPI: "daemon's `domains.update`", addProxy: "proxy's `PUT /v1/routes/APP`"}
	var cliServed time.Duration
	for _, w := range addWays {
		var ret, srv []time.Duration
		for _, a := range r.adds[w] {
			ret, srv = append(ret, a.returned), append(srv, a.served)
		}
		slices.Sort(ret)
		slices.Sort(srv)
		if w == addCLI {
			cliServed = pctl(srv, 50)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", names[w], ms(pctl(ret, 50)), ms(pctl(ret, 90)), ms(pctl(srv, 50)), ms(pctl(srv, 90)), ms(srv[len(srv)-1]))
	}
	var apiSrv []time.Duration
	for _, a := range r.adds[addAPI] {
		apiSrv = append(apiSrv, a.served)
	}
	slices.Sort(apiSrv)
	fmt.Fprintf(b, "\n**Goal**: a route change with 1,000 domains under 10 ms: through the daemon %s (median %s to served); "+
		"from the command line %s (median %s, of which the client process's start is the difference).\n\n",
		met(pctl(apiSrv, 50) < 10*time.Millisecond && r.domains >= 1000), ms(pctl(apiSrv, 50)),
		met(cliServed < 10*time.Millisecond && r.domains >= 1000), ms(cliServed))
}

func (r *report) tlsSection(b *strings.Builder) {
	t := r.tls
	if t == nil {
		return
	}
	fmt.Fprintf(b, "### TLS handshakes with %d certificates\n\n"+
		"%d apps with a self-signed ECDSA P-256 certificate each (`certs:add`, covering the app's %d domains); Debian's nginx with "+
		"the same certificates (a `server` block each, `ssl_protocols TLSv1.3`, `worker_processes auto`). A Go client in the bench's "+
		"process: %d workers, each opening connections one after another for %v, the SNI of each the next of the %d hosts, a full "+
		"TLS 1.3 handshake (no resumption), the certificate checked to be the host's, then closed. Rounds alternate berth, nginx.\n\n",
		t.certs, t.certs, *nDomains, *workers, *duration, t.hosts)
	b.WriteString("| target | handshakes/s (median) | range | × nginx | failed |\n|---|---:|---:|---:|---:|\n")
	sum := func(rs []tlsResult) (med, lo, hi float64, failed int) {
		var v []float64
		for _, x := range rs {
			v = append(v, x.rate())
			failed += x.failed
		}
		if len(v) == 0 {
			return
		}
		return medianOf(v), slices.Min(v), slices.Max(v), failed
	}
	nm, _, _, _ := sum(t.nginx)
	for _, x := range []struct {
		name string
		rs   []tlsResult
	}{{"berth", t.berth}, {"nginx", t.nginx}} {
		med, lo, hi, failed := sum(x.rs)
		fmt.Fprintf(b, "| %s | %.0f | %.0f–%.0f | %.2f× | %d |\n", x.name, med, lo, hi, med/nm, failed)
	}
	for _, x := range append(slices.Clone(t.berth), t.nginx...) {
		if x.firstErr != "" {
			fmt.Fprintf(b, "\n- a failed handshake: %s\n", x.firstErr)
			break
		}
	}
	b.WriteString("\nThe client's share of the CPUs is the same for both; with 2 CPUs it is a large one.\n")
}
