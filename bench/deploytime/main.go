// Command deploytime measures how long Berth's deploys take, end to end and
// split into their steps, beside the same work done by hand: it runs a real
// daemon and proxy on a temporary data dir, and in each round deploys a tiny
// prebuilt app with a health-check path (a CHECKS file), redeploys it with
// no change (ps:rebuild), sets a config var, scales it to three web
// containers and rolls it back; then it does by hand what a first deploy
// does (docker build, docker run, poll until the first 200). It also sets a
// config var on an app without checks (the settle, then the watch). Medians
// over the rounds, ratios against the by-hand figure. Run it with
// bench/run deploy.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	out    = flag.String("out", "", "write the markdown report here (default: stdout)")
	rounds = flag.Int("rounds", 3, "rounds of every scenario (medians are reported)")
	berth  = flag.String("berth", "", "use this berth binary instead of building ./cmd/berth (to measure another version)")
	before = flag.String("compare", "", "an earlier report of this bench (e.g. of -berth main's binary): its medians are shown beside")
)

type env struct {
	bin, data, prefix, exe string
	daemon                 *exec.Cmd
}

func (e *env) environ() []string {
	return append(os.Environ(), "BERTH_DATA_DIR="+e.data, "BERTH_NAME_PREFIX="+e.prefix,
		"BERTH_HTTP_ADDR=127.0.0.1:0", "BERTH_HTTPS_ADDR=127.0.0.1:0", "BERTH_SSH_ADDR=off", "BERTH_OPENSSH=off")
}

func (e *env) run(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(e.exe, args...)
	cmd.Env = e.environ()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func (e *env) must(stdin []byte, args ...string) string {
	o, err := e.run(stdin, args...)
	if err != nil {
		fail("berth %s: %v\n%s", strings.Join(args, " "), err, o)
	}
	return o
}

func (e *env) start() {
	e.daemon = exec.Command(e.exe, "serve")
	e.daemon.Env = e.environ()
	logf, _ := os.Create(filepath.Join(e.data, "daemon.log"))
	e.daemon.Stdout, e.daemon.Stderr = logf, logf
	if err := e.daemon.Start(); err != nil {
		fail("start the daemon: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if o, err := e.run(nil, "version"); err == nil && strings.Contains(o, "proxy on ") {
			return
		}
	}
	fail("the daemon did not come up; see %s/daemon.log", e.data)
}

func (e *env) stop() {
	e.daemon.Process.Signal(syscall.SIGTERM)
	e.daemon.Wait()
	var pid int
	if b, err := os.ReadFile(filepath.Join(e.data, "proxy.pid")); err == nil {
		fmt.Sscan(string(b), &pid)
	}
	if pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "deploytime: "+format+"\n", args...)
	os.Exit(1)
}

func build(dir, name, pkg string) {
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := cmd.CombinedOutput(); err != nil {
		fail("build %s: %v\n%s", name, err, o)
	}
}

// appFiles is the tiny app: the prebuilt test server on busybox, its web
// process, and a CHECKS file with its health path (nil: no checks, the
// settle and the watch apply).
func appFiles(bin string, checks bool) map[string][]byte {
	b, err := os.ReadFile(filepath.Join(bin, "testapp"))
	if err != nil {
		fail("%v", err)
	}
	files := map[string][]byte{
		"testapp":    b,
		"Dockerfile": []byte("FROM berth-test/busybox:1\nCOPY testapp /usr/bin/testapp\nCMD [\"testapp\", \"web\"]\n"),
		"Procfile":   []byte("web: testapp web\n"),
	}
	if checks {
		files["CHECKS"] = []byte("/health ok\n")
	}
	return files
}

func tarOf(files map[string][]byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		mode := int64(0o644)
		if n == "testapp" {
			mode = 0o755
		}
		tw.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(files[n]))})
		tw.Write(files[n])
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// sample is one timed run of a scenario.
type sample struct {
	wall  time.Duration
	steps map[string]time.Duration // from the deploy log's last line ("" when it has none)
	total time.Duration            // the steps' total, as the daemon measured it
}

// parseSteps reads the deploy log's last line, "-----> Deploy took 1.42s:
// release 0.01s, start 1.08s, ... (Berth's own share 1.13s)". Several
// deploys in one output (none today) would add up.
func parseSteps(output string) (map[string]time.Duration, time.Duration) {
	steps := map[string]time.Duration{}
	var total time.Duration
	for _, l := range strings.Split(output, "\n") {
		rest, ok := strings.CutPrefix(l, "-----> Deploy took ")
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, " (")
		head, list, _ := strings.Cut(rest, ": ")
		total += secs(head)
		for _, part := range strings.Split(list, ", ") {
			name, d, ok := strings.Cut(part, " ")
			if ok {
				steps[name] += secs(d)
			}
		}
	}
	return steps, total
}

func secs(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "s"), 64)
	if err != nil {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// parts groups the deploy steps as the report shows them.
var parts = []struct {
	name  string
	steps []string
}{
	{"build", []string{"source", "build"}},
	{"predeploy/release", []string{"release", "env", "predeploy", "release-command"}},
	{"start", []string{"start"}},
	{"checks", []string{"check"}},
	{"switch", []string{"switch"}},
	{"retire", []string{"drain", "retire", "postdeploy"}},
}

// byHand does what a first deploy does, by hand: docker build of the same
// context, docker run publishing the port on 127.0.0.1, then GET /health
// until it answers 200. The image and container are removed after.
func byHand(dir, prefix string, round int) time.Duration {
	tag := fmt.Sprintf("%s-byhand:%d", prefix, round)
	name := fmt.Sprintf("%s-byhand-%d", prefix, round)
	start := time.Now()
	if o, err := exec.Command("docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		fail("docker build: %v\n%s", err, o)
	}
	o, err := exec.Command("docker", "run", "-d", "--name", name, "-e", "PORT=5000", "-p", "127.0.0.1::5000", tag).CombinedOutput()
	if err != nil {
		fail("docker run: %v\n%s", err, o)
	}
	defer func() {
		exec.Command("docker", "rm", "-f", name).Run()
		exec.Command("docker", "rmi", tag).Run()
	}()
	p, err := exec.Command("docker", "port", name, "5000/tcp").Output()
	if err != nil {
		fail("docker port: %v", err)
	}
	addr := strings.TrimSpace(strings.Split(string(p), "\n")[0])
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r, err := client.Get("http://" + addr + "/health"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return time.Since(start)
			}
		}
	}
	fail("the container run by hand never answered 200 on /health")
	return 0
}

func main() {
	flag.Parse()
	began := time.Now()
	tmp, err := os.MkdirTemp("", "berth-deploytime")
	if err != nil {
		fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bin")
	build(bin, "testapp", "./e2e/testapp")
	e := &env{bin: bin, data: filepath.Join(tmp, "data"), prefix: fmt.Sprintf("benchdt%d", os.Getpid())}
	version := "this tree"
	if *berth != "" {
		e.exe, version = *berth, *berth
	} else {
		build(bin, "berth", "./cmd/berth")
		e.exe = filepath.Join(bin, "berth")
	}
	os.MkdirAll(e.data, 0o700)
	e.start()
	var apps []string
	defer func() {
		for _, a := range apps {
			e.run(nil, "apps:destroy", "--force", a)
		}
		e.stop()
	}()
	checked, plain := tarOf(appFiles(bin, true)), tarOf(appFiles(bin, false))
	handDir := filepath.Join(tmp, "byhand")
	os.MkdirAll(handDir, 0o755)
	for n, b := range appFiles(bin, true) {
		os.WriteFile(filepath.Join(handDir, n), b, 0o755)
	}

	// The app without checks is deployed once; each round sets a var.
	apps = append(apps, "plain")
	e.must(nil, "apps:create", "plain")
	e.must(plain, "git:from-archive", "plain", "-")

	order := []string{"first deploy", "no-change redeploy (ps:rebuild)", "config:set", "ps:scale web=3", "releases:rollback", "config:set, no checks (settle)"}
	samples := map[string][]sample{}
	var hand []time.Duration
	timed := func(name string, stdin []byte, args ...string) {
		t0 := time.Now()
		o := e.must(stdin, args...)
		s := sample{wall: time.Since(t0)}
		s.steps, s.total = parseSteps(o)
		samples[name] = append(samples[name], s)
		fmt.Fprintf(os.Stderr, "%-38s %6.2fs\n", name, s.wall.Seconds())
	}
	for r := 1; r <= *rounds; r++ {
		app := fmt.Sprintf("shop%d", r)
		apps = append(apps, app)
		e.must(nil, "apps:create", app)
		timed("first deploy", checked, "git:from-archive", app, "-")
		d := byHand(handDir, e.prefix, r)
		hand = append(hand, d)
		fmt.Fprintf(os.Stderr, "%-38s %6.2fs\n", "by hand", d.Seconds())
		timed("no-change redeploy (ps:rebuild)", nil, "ps:rebuild", app)
		timed("config:set", nil, "config:set", app, fmt.Sprintf("ROUND=%d", r))
		timed("ps:scale web=3", nil, "ps:scale", app, "web=3")
		e.must(nil, "ps:scale", app, "web=1")
		timed("releases:rollback", nil, "releases:rollback", app)
		timed("config:set, no checks (settle)", nil, "config:set", "plain", fmt.Sprintf("ROUND=%d", r))
		e.run(nil, "apps:destroy", "--force", app)
	}

	handMedian := median(hand)
	prev := earlier(*before)
	var b strings.Builder
	fmt.Fprintf(&b, "## Deploy time\n\n")
	fmt.Fprintf(&b, "Generated by `bench/run deploy` on %s (%s/%s, %d CPUs), Berth: %s; %d rounds, medians (min–max in brackets). A tiny prebuilt app (the test server on busybox, one web process, a CHECKS file with `/health ok`) deployed by a real daemon on a temporary data dir; the by-hand figure is `docker build` of the same context + `docker run -p 127.0.0.1::5000` + polling `GET /health` until the first 200. Wall time is the `berth` command end to end; the steps are the daemon's own times from the deploy log's last line (`Deploy took ...`); \"Berth's share\" is the time outside build and checks.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), version, *rounds)
	fmt.Fprintf(&b, "| scenario | wall | × by hand |")
	for _, p := range parts {
		fmt.Fprintf(&b, " %s |", p.name)
	}
	fmt.Fprintf(&b, " Berth's share |")
	cols := len(parts) + 1
	if prev != nil {
		fmt.Fprintf(&b, " before | after/before |")
		cols += 2
	}
	fmt.Fprintf(&b, "\n|---|---:|---:|%s\n", strings.Repeat("---:|", cols))
	fmt.Fprintf(&b, "| by hand (docker build + run + first 200) | %s | 1.00× |%s |", span(hand), strings.Repeat(" |", len(parts)))
	if prev != nil {
		fmt.Fprintf(&b, " %.2f s | |", prev["by hand (docker build + run + first 200)"].Seconds())
	}
	fmt.Fprintf(&b, "\n")
	goalsMet := map[string]string{}
	for _, name := range order {
		ss := samples[name]
		var walls, shares []time.Duration
		for _, s := range ss {
			walls = append(walls, s.wall)
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f× |", name, span(walls), ratio(median(walls), handMedian))
		haveSteps := false
		for _, s := range ss {
			if s.total > 0 {
				haveSteps = true
				own := s.wall - s.steps["build"] - s.steps["source"] - s.steps["check"] - s.steps["predeploy"] - s.steps["release-command"] - s.steps["postdeploy"]
				shares = append(shares, own)
			}
		}
		for _, p := range parts {
			if !haveSteps {
				fmt.Fprintf(&b, " – |")
				continue
			}
			var ds []time.Duration
			for _, s := range ss {
				var d time.Duration
				for _, st := range p.steps {
					d += s.steps[st]
				}
				ds = append(ds, d)
			}
			fmt.Fprintf(&b, " %.2f s |", median(ds).Seconds())
		}
		if haveSteps {
			fmt.Fprintf(&b, " %.2f s |", median(shares).Seconds())
			goalsMet[name+" share"] = fmt.Sprintf("%.2f s", median(shares).Seconds())
		} else {
			fmt.Fprintf(&b, " – |")
		}
		if prev != nil {
			if p, ok := prev[name]; ok && p > 0 {
				fmt.Fprintf(&b, " %.2f s | %.2f× |", p.Seconds(), ratio(median(walls), p))
			} else {
				fmt.Fprintf(&b, " – | – |")
			}
		}
		fmt.Fprintf(&b, "\n")
		goalsMet[name] = fmt.Sprintf("%.2f s", median(walls).Seconds())
	}
	fmt.Fprintf(&b, "\n`ps:scale web=3` starts and checks the two added containers without a deploy, so it prints no step times. The last row is an app without checks: its web process listens, then stays up 2 s (the settle) before the switch; the rest of the uptime window (`checks:set default-uptime-seconds`, 10 s) is watched after it (docs/proxy.md, \"Health checks\"). It took 10.95 s when the whole window was waited out before the switch.\n")
	fmt.Fprintf(&b, "\nGoals (issue 15): no-change redeploy %s and `config:set` %s of a checked app, end to end (goal: under 3 s); Berth's share of a `config:set` %s (goal: under 1 s; it is the wall time minus the build and the checks, so the client, the engine's container start and the switch count against it).\n",
		goalsMet["no-change redeploy (ps:rebuild)"], goalsMet["config:set"], orDash(goalsMet["config:set share"]))
	fmt.Fprintf(&b, "\nThe bench took %s.\n", time.Since(began).Round(time.Second))
	if *out == "" {
		fmt.Print(b.String())
	} else if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		fail("%v", err)
	}
}

// earlier reads the wall medians of an earlier report of this bench, by
// scenario (nil without one).
func earlier(file string) map[string]time.Duration {
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	out := map[string]time.Duration{}
	for _, l := range strings.Split(string(data), "\n") {
		cells := strings.Split(l, "|")
		if len(cells) < 4 {
			continue
		}
		f := strings.Fields(cells[2])
		if len(f) < 2 || f[1] != "s" {
			continue
		}
		out[strings.TrimSpace(cells[1])] = secs(f[0])
	}
	if len(out) == 0 {
		fail("%s holds no table of this bench", file)
	}
	return out
}

// span shows a median with the range: "1.42 s (1.30–1.61)".
func span(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f s (%.2f–%.2f)", median(ds).Seconds(), slices.Min(ds).Seconds(), slices.Max(ds).Seconds())
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func orDash(s string) string {
	if s == "" {
		return "– (this binary prints no step times)"
	}
	return s
}
