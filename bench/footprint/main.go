// Command footprint measures what Berth costs a server when nothing
// happens: a real `berth serve` daemon and its proxy (its own process) on a
// temporary data dir, with 0, then 20, then 100 apps deployed (the test
// app's image, one web container each, one domain each). At each count,
// after the daemon settled, it reads the RSS and PSS of both processes and
// the CPU time each used over an idle window; the report gives them, the
// memory per app (route) between the counts, and the goal (daemon +
// proxy under 40 MiB with 20 apps, ~0 % CPU). Run it with `bench/run
// footprint`; see bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/bench/internal/benchenv"
)

var (
	out      = flag.String("out", "", "write the markdown report here (default: stdout)")
	countsF  = flag.String("apps", "0,20,100", "comma-separated app counts, increasing")
	settle   = flag.Duration("settle", 10*time.Second, "wait after deploying before measuring")
	idle     = flag.Duration("idle", 30*time.Second, "idle window over which CPU time is measured (the cron scheduler looks every 30 s)")
	parallel = flag.Int("parallel", 3, "deploys at a time")
)

// sample is what was measured at one app count.
type sample struct {
	apps              int
	daemon, proxy     benchenv.Mem
	daemonCPU, proxyC time.Duration
	window            time.Duration
}

func main() {
	benchenv.Prog = "footprint"
	flag.Parse()
	var counts []int
	for _, f := range strings.Split(*countsF, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || (len(counts) > 0 && n <= counts[len(counts)-1]) {
			benchenv.Fail("-apps %q: want increasing counts such as 0,20,100", *countsF)
		}
		counts = append(counts, n)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { s := <-sigs; benchenv.Fail("interrupted (%v): cleaning up", s) }()

	began, load0 := time.Now(), benchenv.Loadavg()
	benchenv.Logf("building berth, the test app and its image")
	e := benchenv.New("footprint")
	e.BuildImage()
	e.Start()

	var samples []sample
	deployed := 0
	for _, n := range counts {
		if n > deployed {
			benchenv.Logf("deploying apps %d to %d", deployed+1, n)
			var names []string
			for i := deployed + 1; i <= n; i++ {
				names = append(names, fmt.Sprintf("app%03d", i))
			}
			e.Deploy(names, func(a string) []string { return []string{a + ".footprint.test"} }, *parallel)
			deployed = n
		}
		time.Sleep(*settle)
		s := measure(e, n)
		samples = append(samples, s)
		benchenv.Logf("%3d apps: daemon RSS %s PSS %s CPU %v; proxy RSS %s PSS %s CPU %v (over %v)", n,
			mib(s.daemon.RSS), mib(s.daemon.PSS), s.daemonCPU, mib(s.proxy.RSS), mib(s.proxy.PSS), s.proxyC, s.window.Round(time.Second))
	}
	text := report(samples, began, load0)
	benchenv.Cleanup()
	if *out == "" {
		fmt.Print(text)
	} else if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "footprint:", err)
		os.Exit(1)
	}
}

// measure reads both processes' CPU time across the idle window, then
// their memory.
func measure(e *benchenv.Env, apps int) sample {
	dpid, ppid := e.DaemonPID(), e.ProxyPID()
	if dpid == 0 || ppid == 0 {
		benchenv.Fail("the daemon (pid %d) or the proxy (pid %d) is not running; see %s", dpid, ppid, e.Data)
	}
	cpu := func() (time.Duration, time.Duration) {
		d, err1 := benchenv.CPUOf(dpid)
		p, err2 := benchenv.CPUOf(ppid)
		if err1 != nil || err2 != nil {
			benchenv.Fail("read CPU times: %v %v", err1, err2)
		}
		return d, p
	}
	d0, p0 := cpu()
	start := time.Now()
	time.Sleep(*idle)
	d1, p1 := cpu()
	s := sample{apps: apps, daemonCPU: d1 - d0, proxyC: p1 - p0, window: time.Since(start)}
	var err1, err2 error
	s.daemon, err1 = benchenv.MemOf(dpid)
	s.proxy, err2 = benchenv.MemOf(ppid)
	if err1 != nil || err2 != nil {
		benchenv.Fail("read memory: %v %v", err1, err2)
	}
	return s
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func pct(cpu, window time.Duration) string {
	if window <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f %%", 100*cpu.Seconds()/window.Seconds())
}

func report(samples []sample, began time.Time, load0 string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Footprint\n\n")
	fmt.Fprintf(&b, "Run %s, %s long, %s/%s, %d CPUs. A real daemon and its proxy (a process of its own), apps deployed from the test "+
		"app's image (`git:from-image`, one web container and one domain each), %v after the last deploy before measuring; CPU over "+
		"an idle window of %v. Load average %s at the start, %s at the end.\n\n",
		began.UTC().Format("2006-01-02 15:04 UTC"), time.Since(began).Round(time.Second), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		*settle, *idle, load0, benchenv.Loadavg())
	b.WriteString("| apps | daemon RSS | daemon PSS | proxy RSS | proxy PSS | RSS sum | PSS sum | daemon CPU idle | proxy CPU idle |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s (%v) | %s (%v) |\n", s.apps,
			mib(s.daemon.RSS), mib(s.daemon.PSS), mib(s.proxy.RSS), mib(s.proxy.PSS),
			mib(s.daemon.RSS+s.proxy.RSS), mib(s.daemon.PSS+s.proxy.PSS),
			pct(s.daemonCPU, s.window), s.daemonCPU, pct(s.proxyC, s.window), s.proxyC)
	}
	b.WriteString("\nRSS splits into anonymous memory (heap, stacks) and file pages (mostly the binary's code, the same file for " +
		"both processes):\n\n| apps | daemon anon | daemon file | proxy anon | proxy file |\n|---:|---:|---:|---:|---:|\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", s.apps, mib(s.daemon.Anon), mib(s.daemon.File), mib(s.proxy.Anon), mib(s.proxy.File))
	}
	b.WriteString("\n")
	slope(&b, samples)
	goal(&b, samples)
	b.WriteString("\nPSS counts each shared page once among the processes mapping it, so the PSS sum is what the pair costs the " +
		"machine; the RSS sum counts the binary's pages twice. RSS of a Go process also holds heap freed but not yet returned to the " +
		"kernel, so the figures after deploys are higher than those of a daemon restarted with the same apps.\n")
	return b.String()
}

// slope is the memory per app between successive counts.
func slope(b *strings.Builder, s []sample) {
	if len(s) < 2 {
		return
	}
	b.WriteString("Memory per app (route), between counts:\n\n| apps | daemon RSS / app | proxy RSS / app | proxy anon / app |\n|---|---:|---:|---:|\n")
	for i := 1; i < len(s); i++ {
		n := float64(s[i].apps - s[i-1].apps)
		per := func(a, b int64) string { return fmt.Sprintf("%.1f KiB", float64(b-a)/n) }
		fmt.Fprintf(b, "| %d → %d | %s | %s | %s |\n", s[i-1].apps, s[i].apps, per(s[i-1].daemon.RSS, s[i].daemon.RSS),
			per(s[i-1].proxy.RSS, s[i].proxy.RSS), per(s[i-1].proxy.Anon, s[i].proxy.Anon))
	}
	b.WriteString("\n")
}

// goal compares the count nearest 20 apps with the goal.
func goal(b *strings.Builder, s []sample) {
	i := slices.IndexFunc(s, func(x sample) bool { return x.apps == 20 })
	if i < 0 {
		return
	}
	g := s[i]
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	const limit = 40 * 1024
	cpu := (g.daemonCPU + g.proxyC).Seconds() / g.window.Seconds()
	fmt.Fprintf(b, "**Goal** (issue 15): idle, daemon + proxy under 40 MiB with 20 apps and ~0 %% CPU. With 20 apps: RSS sum %s (%s), "+
		"PSS sum %s (%s); CPU %.2f %% of one CPU (%s: under 0.5 %% counts as ~0).\n",
		mib(g.daemon.RSS+g.proxy.RSS), met(g.daemon.RSS+g.proxy.RSS < limit), mib(g.daemon.PSS+g.proxy.PSS),
		met(g.daemon.PSS+g.proxy.PSS < limit), 100*cpu, met(cpu < 0.005))
}
