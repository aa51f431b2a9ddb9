package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Many pushes at once: 20 apps deploying together, and 5 pushes to one app
// over git, of which one deploys and the others are refused naming the
// holder. See docs/reliability.md, "Resources".

// rssSampler records the peak resident set of a process (VmHWM is the
// kernel's own high-water mark) and the RSS seen while it runs.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	max  int64 // kB, sampled
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			if v := procStatusKB(pid, "VmRSS"); v > s.max {
				s.max = v
			}
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return s
}

// end stops sampling and returns the sampled peak RSS in MB.
func (s *rssSampler) end() float64 {
	close(s.stop)
	<-s.done
	return float64(s.max) / 1024
}

// procStatusKB reads a kB field of /proc/PID/status (0 when unreadable).
func procStatusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// sharedBase builds, once for the test, an image of busybox with the test
// app in it: the apps of a burst build FROM it, so that each build sends a
// context of two small files and adds one layer.
func sharedBase(t *testing.T) string {
	t.Helper()
	ctxDir := t.TempDir()
	bin, err := os.ReadFile(filepath.Join(binDir, "testapp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "testapp"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	df := "FROM berth-test/busybox:1\nCOPY testapp /usr/bin/testapp\nCMD [\"testapp\", \"web\"]\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("berth-test/burst-base:%d-%d", os.Getpid(), prefixSeq.Add(1))
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, ctxDir).CombinedOutput(); err != nil {
		t.Fatalf("build the shared base: %v\n%s", err, out)
	}
	t.Cleanup(func() { removeImageKeepParents(tag) })
	return tag
}

// plainTar is a tar (not gzipped) of files.
func plainTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	return buf.Bytes()
}

// TestTwentyConcurrentDeploys deploys 20 apps at once through the control
// socket: every deploy succeeds, every app serves its own version, and
// the daemon's memory during the burst is logged (docs/reliability.md
// quotes it).
func TestTwentyConcurrentDeploys(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	const n = 20
	setup := time.Now()
	pid := d.cmd.Process.Pid
	idle := float64(procStatusKB(pid, "VmRSS")) / 1024
	base := sharedBase(t)
	tars := make([][]byte, n)
	for i := range n {
		d.mustBerth(t, "apps:create", fmt.Sprintf("app%02d", i))
		tars[i] = plainTar(t, map[string]string{"Dockerfile": fmt.Sprintf("FROM %s\nENV APP_NUM=%d\n", base, i), "Procfile": "web: testapp web\n"})
	}
	t.Logf("setup %v", time.Since(setup).Round(100*time.Millisecond))
	rss := sampleRSS(pid)
	start := time.Now()
	var wg sync.WaitGroup
	outs, codes := make([]string, n), make([]int, n)
	for i := range n {
		wg.Go(func() { outs[i], codes[i] = d.deployTar(t, fmt.Sprintf("app%02d", i), tars[i]) })
	}
	wg.Wait()
	took := time.Since(start)
	peak := rss.end()
	for i := range n {
		if codes[i] != 0 || !strings.Contains(outs[i], fmt.Sprintf("Application deployed: app%02d release 1", i)) {
			t.Errorf("deploy of app%02d: exit %d\n%s", i, codes[i], outs[i])
		}
	}
	var env map[string]string
	for i := range n {
		c, ok := containers(t, eng, d, fmt.Sprintf("app%02d", i))["web.1"]
		if !ok {
			t.Errorf("app%02d has no web.1", i)
			continue
		}
		decodeJSON(t, httpGet(t, c.HostPort, "/env"), &env)
		if env["APP_NUM"] != strconv.Itoa(i) {
			t.Errorf("app%02d serves APP_NUM=%q", i, env["APP_NUM"])
		}
	}
	t.Logf("%d concurrent deploys in %v; daemon RSS: %.1f MB idle, peak %.1f MB sampled during the burst (VmHWM %.1f MB)",
		n, took.Round(100*time.Millisecond), idle, peak, float64(procStatusKB(pid, "VmHWM"))/1024)
}

// TestFivePushesToOneApp pushes to one app from five clones at once over
// the ssh server: one push deploys, the other four are refused at once,
// each naming the holder and since when; no two deploys of the app ever
// overlap (the daemon's log), and the app serves the winner's version.
func TestFivePushesToOneApp(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, key, port := sshDaemon(t, eng)
	d.mustBerth(t, "apps:create", "same")
	const n = 5
	t0 := time.Now()
	// The five clones share a first commit, pushed to a branch that is
	// stored and not deployed: the racing pushes then send a commit of a
	// few bytes each and reach the lock together, not one transfer of the
	// test app apart.
	url := "ssh://berth@127.0.0.1:" + port + "/same"
	base := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("base"), "Procfile": "web: testapp web\n"})
	base.git("remote", "add", "berth", url)
	d.mustBerth(t, "git:set", "same", "deploy-branch", "main")
	base.git("push", "berth", "main:seed")
	repos := make([]*repo, n)
	for i := range n {
		dir := filepath.Join(t.TempDir(), "app")
		if out, err := exec.Command("git", "clone", "-q", base.dir, dir).CombinedOutput(); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
		repos[i] = &repo{t: t, dir: dir, env: base.env}
		// The build sleeps, so that the winner holds the lock while the
		// other pushes arrive.
		repos[i].write(map[string]string{"Dockerfile": dockerfile(fmt.Sprintf("p%d", i), nonce(), "RUN sleep 4")})
		repos[i].commit(fmt.Sprintf("p%d", i))
		repos[i].git("remote", "add", "berth", url)
	}
	outs, codes, ends := make([]string, n), make([]int, n), make([]time.Time, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			outs[i], codes[i] = repos[i].try("push", "-f", "berth", "main")
			ends[i] = time.Now()
		})
	}
	t1 := time.Now()
	close(start)
	wg.Wait()
	var took []string
	for i := range n {
		took = append(took, fmt.Sprintf("push %d: exit %d after %v", i, codes[i], ends[i].Sub(t1).Round(100*time.Millisecond)))
	}
	t.Logf("setup %v; %s", t1.Sub(t0).Round(100*time.Millisecond), strings.Join(took, ", "))
	holderRE := regexp.MustCompile(`same is being deployed by a git push by key admin since (\S+); wait for it to finish`)
	winner := -1
	for i := range n {
		switch {
		case codes[i] == 0 && strings.Contains(outs[i], "Application deployed: same release"):
			if winner >= 0 {
				t.Errorf("two pushes deployed: %d and %d", winner, i)
			}
			winner = i
		case codes[i] != 0 && holderRE.MatchString(outs[i]):
			since, err := time.Parse(time.RFC3339, holderRE.FindStringSubmatch(outs[i])[1])
			if err != nil || since.Before(t1.Add(-time.Second)) || since.After(ends[i]) {
				t.Errorf("push %d: the holder's time %q is not an RFC 3339 time during the race (%v to %v)", i, holderRE.FindStringSubmatch(outs[i])[1], t1, ends[i])
			}
		default:
			t.Errorf("push %d: exit %d, neither deployed nor refused naming the holder:\n%s", i, codes[i], outs[i])
		}
	}
	if winner < 0 {
		t.Fatalf("no push deployed:\n%s", strings.Join(outs, "\n----\n"))
	}
	for i := range n {
		if i != winner && !ends[i].Before(ends[winner]) {
			t.Errorf("refused push %d returned after the winner finished: it waited for the lock", i)
		}
	}
	if v := webVersion(t, eng, d, "same"); !strings.HasPrefix(v, fmt.Sprintf("version=p%d", winner)) {
		t.Errorf("serves %q, want the winner p%d", v, winner)
	}
	// The daemon's log: deploys of the app never overlap, and only one ran.
	started, running := 0, false
	for line := range strings.SplitSeq(d.log.String(), "\n") {
		if !strings.Contains(line, "app=same ") {
			continue
		}
		switch {
		case strings.Contains(line, `msg="deploy started"`):
			if running {
				t.Errorf("a deploy of same started while another ran: %s", line)
			}
			running = true
			started++
		case strings.Contains(line, `msg="deploy finished"`), strings.Contains(line, `msg="deploy failed"`):
			running = false
		}
	}
	if started != 1 {
		t.Errorf("%d deploys of same started, want 1", started)
	}
	// The refused pushes did not move the branch: it is the winner's.
	head := strings.TrimSpace(repos[winner].git("rev-parse", "HEAD"))
	cmd := exec.Command("git", "ls-remote", "berth", "refs/heads/main")
	cmd.Dir, cmd.Env = repos[winner].dir, repos[winner].env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), head) {
		t.Errorf("the app's main after the race: %s %v, want the winner's %s", out, err, head)
	}
}

// memCgroup is a memory cgroup of the test's own (v1's memory controller,
// or v2), with a limit.
type memCgroup struct {
	dir string
	v2  bool
}

// newMemCgroup makes a child memory cgroup of this process's own, limited
// to limit bytes, removed at the end of the test. It skips, saying why,
// when the host gives no writable memory cgroup.
func newMemCgroup(t *testing.T, limit int64) *memCgroup {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no /proc/self/cgroup: %v", err)
	}
	var cg memCgroup
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if slices.Contains(strings.Split(parts[1], ","), "memory") {
			cg.dir = filepath.Join("/sys/fs/cgroup/memory", parts[2])
			break
		}
		if parts[0] == "0" && parts[1] == "" {
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				cg.dir, cg.v2 = filepath.Join("/sys/fs/cgroup", parts[2]), true
			}
		}
	}
	if cg.dir == "" {
		t.Skip("this host has no memory cgroup (v1 memory controller or v2) to run the daemon in")
	}
	cg.dir = filepath.Join(cg.dir, fmt.Sprintf("berth-test-%d-%d", os.Getpid(), prefixSeq.Add(1)))
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		t.Skipf("cannot make a memory cgroup (%v): the daemon's memory is only measured (TestTwentyConcurrentDeploys)", err)
	}
	t.Cleanup(func() {
		// Processes left in it (the daemon is killed by then) go back up.
		for range 50 {
			if os.Remove(cg.dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("memory cgroup %s not removed", cg.dir)
	})
	if !cg.v2 {
		// Move the daemon's pages with it, so they count against the
		// limit. Newer kernels refuse (the feature is gone): then what it
		// had before counts where it was, and the limit bounds the rest.
		if err := os.WriteFile(filepath.Join(cg.dir, "memory.move_charge_at_immigrate"), []byte("3"), 0o644); err != nil {
			t.Logf("memory.move_charge_at_immigrate: %v (the daemon's pages from before the move are not counted)", err)
		}
	}
	cg.setLimit(t, limit)
	return &cg
}

func (cg *memCgroup) write(t *testing.T, file, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(cg.dir, file), []byte(value), 0o644); err != nil {
		t.Fatalf("write %s to %s: %v", value, file, err)
	}
}

func (cg *memCgroup) read(file string) string {
	b, _ := os.ReadFile(filepath.Join(cg.dir, file))
	return strings.TrimSpace(string(b))
}

func (cg *memCgroup) setLimit(t *testing.T, limit int64) {
	t.Helper()
	if cg.v2 {
		cg.write(t, "memory.max", strconv.FormatInt(limit, 10))
	} else {
		cg.write(t, "memory.limit_in_bytes", strconv.FormatInt(limit, 10))
	}
}

// add moves a process into the cgroup.
func (cg *memCgroup) add(t *testing.T, pid int) {
	cg.write(t, "cgroup.procs", strconv.Itoa(pid))
}

// usage is the cgroup's memory use now, and its peak, in bytes.
func (cg *memCgroup) usage() (now, peak int64) {
	if cg.v2 {
		now, _ = strconv.ParseInt(cg.read("memory.current"), 10, 64)
		peak, _ = strconv.ParseInt(cg.read("memory.peak"), 10, 64)
		return now, peak
	}
	now, _ = strconv.ParseInt(cg.read("memory.usage_in_bytes"), 10, 64)
	peak, _ = strconv.ParseInt(cg.read("memory.max_usage_in_bytes"), 10, 64)
	return now, peak
}

// oomKills is how many processes of the cgroup the kernel killed.
func (cg *memCgroup) oomKills() int {
	file := "memory.oom_control"
	if cg.v2 {
		file = "memory.events"
	}
	for line := range strings.SplitSeq(cg.read(file), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// TestDaemonUnderMemoryLimit runs the daemon in a memory cgroup limited
// to 96 MB and then to 16 MB above what it uses: deploys (one of them with
// a 40 MB source tree, whose page cache the kernel must reclaim), parallel
// deploys and config writes all work, the kernel kills nothing, and the
// database passes its integrity check.
func TestDaemonUnderMemoryLimit(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	cg := newMemCgroup(t, 96<<20)
	cg.add(t, d.cmd.Process.Pid)
	deploy := func(app string, tarball []byte) {
		t.Helper()
		if out, code := d.deployTar(t, app, tarball); code != 0 || !strings.Contains(out, "Application deployed: "+app) {
			t.Errorf("deploy of %s under the memory limit: exit %d\n%s", app, code, out)
		}
	}
	d.mustBerth(t, "apps:create", "shop")
	deploy("shop", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"}))
	var wg sync.WaitGroup
	for i := range 5 {
		d.mustBerth(t, "apps:create", fmt.Sprintf("par%d", i))
		wg.Go(func() {
			deploy(fmt.Sprintf("par%d", i), appTar(t, map[string]string{"Dockerfile": dockerfile("v1", fmt.Sprintf("ENV N=%d", i)), "Procfile": "web: testapp web\n"}))
		})
	}
	for i := range 20 {
		d.mustBerth(t, "config:set", "--no-restart", "shop", fmt.Sprintf("K%d=%s", i, strings.Repeat("v", 4096)))
	}
	wg.Wait()
	now, peak := cg.usage()
	t.Logf("under a 96 MB limit: the daemon's cgroup uses %.1f MB, peak %.1f MB", float64(now)/(1<<20), float64(peak)/(1<<20))

	// Tighter: 16 MB above the daemon's resident memory now, and a deploy
	// that writes 40 MB of source (page cache the kernel must reclaim).
	rss := procStatusKB(d.cmd.Process.Pid, "VmRSS") << 10
	tight := rss + 16<<20 // below what the cgroup holds: its page cache must go
	cg.setLimit(t, tight)
	deploy("shop", bigAppTar(t, "v2", 40<<20))
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v2") {
		t.Errorf("after the deploy under the tight limit served %q", v)
	}
	d.mustBerth(t, "config:set", "--no-restart", "shop", "AFTER=1")
	_, peak = cg.usage()
	t.Logf("under a %.1f MB limit: peak %.1f MB, %s times at the limit; daemon RSS %.1f MB before, peak (VmHWM) %.1f MB",
		float64(tight)/(1<<20), float64(peak)/(1<<20), cg.read("memory.failcnt"), float64(rss)/(1<<20), float64(procStatusKB(d.cmd.Process.Pid, "VmHWM"))/1024)
	if n := cg.oomKills(); n != 0 {
		t.Errorf("the kernel killed %d processes of the daemon's cgroup", n)
	}
	if d.cmd.ProcessState != nil {
		t.Fatalf("the daemon exited: %v", d.cmd.ProcessState)
	}
	checkDB(t, d)
}
