// Command proxycmp puts Berth's proxy side by side with what a user would
// run instead. One small Go backend (./backend) is deployed as a Berth app
// from a locally built image; Berth's proxy (a real `berth serve` daemon
// and its proxy), nginx, Caddy and HAProxy each listen on their own
// loopback ports with one route to that same container, and the backend is
// also measured directly. Each scenario (HTTP/1.1 keep-alive and a new
// connection per request, HTTPS TLS 1.3 keep-alive and new handshakes,
// HTTP/2 over TLS, a fixed 1,000 req/s open loop) sends load with wrk or
// vegeta to every target in turn, round after round, so that the noise of
// the machine hits all alike; the report gives each target's median over
// the rounds and its ratio to nginx and to the backend measured in the same
// run. Run it with `bench/run` (or `bench/run proxy`), which installs the
// tools; see bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	host = "localhost" // the route's domain, the certificate's name
	app  = "pxbench"
)

var (
	out      = flag.String("out", "", "write the markdown report here (default: stdout)")
	rounds   = flag.Int("rounds", 3, "rounds: each sends every scenario's load to every target once")
	duration = flag.Duration("duration", 6*time.Second, "length of one load run")
	threads  = flag.Int("threads", 2, "wrk threads")
	conns    = flag.Int("conns", 32, "connections (wrk) or concurrent requests (HTTP/2) per run")
	rate     = flag.Int("rate", 1000, "requests per second of the open-loop scenario")
	only     = flag.String("scenarios", "", "comma-separated scenario ids to run (default: all): h1,h1-close,rate,tls,tls-close,h2")
	berthBin = flag.String("berth", "", "a berth binary to measure (default: built from this tree)")
	names    = flag.String("targets", "direct,berth,nginx,caddy,haproxy", "comma-separated targets, in the order of each round (berth-rp: berth's proxy with its fast path off; berth-net: with net/http's server instead of its HTTP/1.1 loop; berth-nometrics: with its request counters off; all three HTTP only)")
)

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

// atExit registers f to run, last registered first, when the bench ends,
// fails or is interrupted.
func atExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func cleanup() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "proxycmp: "+format+"\n", args...)
	cleanup()
	os.Exit(1)
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func goBuild(out, pkg string) {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		fail("build %s: %v\n%s", pkg, err, o)
	}
}

func main() {
	flag.Parse()
	want := map[string]bool{}
	for _, n := range strings.Split(*names, ",") {
		switch n {
		case "direct", "berth", "berth-rp", "berth-net", "berth-nometrics", "nginx", "caddy", "haproxy":
			want[n] = true
		default:
			fail("unknown target %q: use direct, berth, berth-rp, berth-net, berth-nometrics, nginx, caddy, haproxy", n)
		}
	}
	var run []scenario
	for _, sc := range scenarios {
		if *only == "" || strings.Contains(","+*only+",", ","+sc.id+",") {
			run = append(run, sc)
		}
	}
	if len(run) == 0 || *rounds < 1 || *duration <= 0 {
		fail("nothing to run: check -scenarios (h1,h1-close,rate,tls,tls-close,h2), -rounds and -duration")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { s := <-sigs; fail("interrupted (%v): cleaning up", s) }()

	tmp, err := os.MkdirTemp("", "berth-proxycmp")
	if err != nil {
		fail("%v", err)
	}
	os.Chmod(tmp, 0o755) // nginx's workers (nobody) reach its temp dirs
	atExit(func() { os.RemoveAll(tmp) })
	began := time.Now()
	load0 := loadavg()
	logf("building berth and the backend")
	if *berthBin == "" {
		goBuild(filepath.Join(tmp, "bin", "berth"), "./cmd/berth")
	} else if err := copyFile(*berthBin, filepath.Join(tmp, "bin", "berth")); err != nil {
		fail("-berth: %v", err)
	}
	goBuild(filepath.Join(tmp, "backend"), "./bench/proxycmp/backend")
	writeCert(tmp)

	logf("starting berth and deploying the backend")
	b := startBerth(filepath.Join(tmp, "bin"), tmp)
	backend := b.deploy(tmp)
	direct := &target{name: "direct", http: backend, https: b.startDirectTLS()}
	webPID := docker("inspect", "--format", "{{.State.Pid}}", b.prefix+"-"+app+".web.1")
	direct.pidsOf = func() []int { p, _ := strconv.Atoi(webPID); return []int{p} }
	waitReady(direct, filepath.Join(b.data, "daemon.log"))
	logf("backend at %s (TLS %s)", direct.http, direct.https)

	var targets []*target
	for _, n := range strings.Split(*names, ",") {
		var t *target
		switch n {
		case "direct":
			t = direct
		case "berth":
			t = b.t
		case "berth-rp", "berth-net", "berth-nometrics":
			t = b.startReverseProxy(tmp, n)
		case "nginx":
			t = startNginx(tmp, backend)
		case "caddy":
			t = startCaddy(tmp, backend)
		case "haproxy":
			t = startHAProxy(tmp, backend)
		}
		targets = append(targets, t)
	}

	l := &loader{dir: tmp, threads: *threads, conns: *conns, duration: duration.String(), rate: *rate}
	res := map[string]map[string][]result{}
	failures := map[string][]string{}
	certAdded := false
	for _, sc := range run {
		if sc.tls && !certAdded {
			logf("giving the berth app the certificate (its HTTP now redirects to HTTPS)")
			b.addCert(tmp)
			certAdded = true
			for _, t := range targets {
				if sc.url(t) == "" {
					continue
				}
				if err := probe(sc.url(t), true); err != nil {
					fail("%s over TLS: %v", t.name, err)
				}
			}
		}
		res[sc.id] = map[string][]result{}
		for r := 1; r <= *rounds; r++ {
			for _, t := range targets {
				u := sc.url(t)
				if u == "" { // berth-rp: HTTP only
					continue
				}
				cpu0 := cpuTime(t.pids())
				got, err := l.run(sc, u)
				if cpu1 := cpuTime(t.pids()); cpu0 >= 0 && cpu1 >= cpu0 {
					got.cpu = cpu1 - cpu0
				}
				if err != nil {
					failures[sc.id] = append(failures[sc.id], fmt.Sprintf("%s round %d: %v", t.name, r, err))
					logf("%-9s %-8s round %d: %v", sc.id, t.name, r, err)
					continue
				}
				res[sc.id][t.name] = append(res[sc.id][t.name], got)
				logf("%-9s %-8s round %d: %8.0f req/s  p50 %v  p99 %v  p99.9 %v  errors %d", sc.id, t.name, r,
					got.rps(), got.p50.Round(time.Microsecond), got.p99.Round(time.Microsecond), got.p999.Round(time.Microsecond), got.errors)
			}
		}
	}
	rep := report{scenarios: run, targets: targets, res: res, failures: failures,
		began: began, took: time.Since(began), load: [2]string{load0, loadavg()}}
	text := rep.markdown()
	cleanup()
	if *out == "" {
		fmt.Print(text)
	} else if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "proxycmp:", err)
		os.Exit(1)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(to), 0o755)
	}
	if err == nil {
		err = os.WriteFile(to, b, 0o755)
	}
	return err
}

// loadavg is the machine's load average over 1, 5 and 15 minutes.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
