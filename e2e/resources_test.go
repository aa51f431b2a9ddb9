package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

// Resources: a full disk under the daemon's data dir (a real tmpfs with a
// size limit, filled by the test), during a deploy, a backup and a state
// write. See docs/reliability.md, "Resources".

// tmpfsDir mounts a tmpfs of the given size (mount's syntax: "48m") on a
// fresh short directory; it is unmounted at the end of the test, after the
// daemon and its containers are gone.
func tmpfsDir(t *testing.T, size string) string {
	t.Helper()
	dir := shortTempDir(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s (the disk-full tests need root): %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		killProxy(dir) // its pid file is on the tmpfs
		var out []byte
		var err error
		for range 50 { // the killed processes may not be gone yet
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("umount %s: %v %s; detaching it", dir, err, out)
		exec.Command("umount", "-l", dir).Run()
	})
	return dir
}

// freeBytes is what an unprivileged writer may still write on dir's disk.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// fillDisk writes a file on dir's disk until only leave bytes are free
// (0: until the disk is full) and returns its path.
func fillDisk(t *testing.T, dir string, leave int64) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		n := freeBytes(t, dir) - leave
		if n <= 0 {
			break
		}
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n)]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	return f.Name()
}

// treeFiles lists the regular files and directories under dir (relative
// paths), leaving out the database's own files, which change with any write.
func treeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "berth.db") || strings.HasPrefix(rel, "filler-") || strings.HasPrefix(rel, "services/") {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

// newPaths returns what is in after and not in before.
func newPaths(before, after []string) []string {
	seen := map[string]bool{}
	for _, p := range before {
		seen[p] = true
	}
	var out []string
	for _, p := range after {
		if !seen[p] {
			out = append(out, p)
		}
	}
	return out
}

// bigAppTar is the test app with a file of n random bytes (it does not
// compress: the archive is as big as what it unpacks to).
func bigAppTar(t *testing.T, version string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	bin, err := os.ReadFile(filepath.Join(binDir, "testapp"))
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, n)
	rand.Read(big)
	for _, f := range []struct {
		name string
		data []byte
	}{{"testapp", bin}, {"Dockerfile", []byte(dockerfile(version))}, {"Procfile", []byte("web: testapp web\n")}, {"big.bin", big}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		tw.Write(f.data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// errorLinesOf returns berth's error lines (" !     ...") of combined output.
func errorLinesOf(out string) []string { return dataErrorLines([]byte(out)) }

// checkDB stops the daemon and runs SQLite's integrity check on its database.
func checkDB(t *testing.T, d *daemon) {
	t.Helper()
	if err := d.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(d.dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CheckIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestDiskFullDuringDeployAndConfigSet: the data dir is a 96 MB tmpfs.
// A deploy whose source does not fit (through the control socket, and
// through git push) is refused in one line naming the full disk, leaves no
// partial source tree, and the old release serves;
// a config:set on a full disk is refused in one line and changes nothing;
// once space is freed, config:set and deploys work and the database
// passes its integrity check.
func TestDiskFullDuringDeployAndConfigSet(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	dir := tmpfsDir(t, "96m")
	d := deployDaemonOn(t, eng, dir)
	key := sshKey(t, t.TempDir(), "admin")
	d.mustBerth(t, "ssh-keys:add", "admin", key+".pub")
	_, port, _ := net.SplitHostPort(d.sshAddr)
	r := newRepo(t, key, port, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})
	r.git("remote", "add", "berth", "ssh://berth@127.0.0.1:"+port+"/shop")
	r.git("push", "berth", "main")
	v1 := strings.TrimSpace(r.git("rev-parse", "HEAD"))
	d.mustBerth(t, "config:set", "--no-restart", "shop", "KEPT=before")
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v1") {
		t.Fatalf("served %q", v)
	}
	before := treeFiles(t, dir)

	// (a) A source tree bigger than the free space.
	filler := fillDisk(t, dir, 2<<20)
	free := freeBytes(t, dir)
	out, code := d.deployTar(t, "shop", bigAppTar(t, "v2", 6<<20))
	lines := errorLinesOf(out)
	if code == 0 || len(lines) != 1 || !strings.Contains(lines[0], "disk is full") || !strings.Contains(lines[0], filepath.Join(dir, "apps", "shop", "releases")) || !strings.Contains(lines[0], "free space") {
		t.Errorf("deploy on a full disk: exit %d, error lines %q\n%s", code, lines, out)
	}
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v1") {
		t.Errorf("after the refused deploy served %q", v)
	}
	if extra := newPaths(before, treeFiles(t, dir)); len(extra) > 0 {
		t.Errorf("the refused deploy left files in the data dir: %q", extra)
	}
	if now := freeBytes(t, dir); now < free-(256<<10) {
		t.Errorf("free space after the refused deploy: %d bytes, %d before it", now, free)
	}
	t.Logf("refused deploy: %s", lines)

	// The same over git push: 6 MB of zeros are a few kB of git objects,
	// which fit, but the tree unpacked for the build does not.
	r.write(map[string]string{"Dockerfile": dockerfile("v2git"), "big.bin": strings.Repeat("\x00", 6<<20)})
	r.commit("big")
	out, code = r.try("push", "berth", "main")
	if code == 0 || !strings.Contains(out, "Deploy failed at step source: The disk is full writing the source tree in "+filepath.Join(dir, "apps", "shop", "releases")) || !strings.Contains(out, "pre-receive hook declined") {
		t.Errorf("git push on a full disk: exit %d\n%s", code, out)
	}
	if got, _ := r.try("ls-remote", "berth", "refs/heads/main"); !strings.HasPrefix(got, v1) {
		t.Errorf("the refused push moved main: %q, want %s", got, v1)
	}
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v1") {
		t.Errorf("after the refused push served %q", v)
	}
	if extra := newPaths(before, treeFiles(t, dir)); len(extra) > 0 {
		t.Errorf("the refused push left files in the data dir: %q", extra)
	}
	if now := freeBytes(t, dir); now < free-(512<<10) {
		t.Errorf("free space after the refused push: %d bytes, %d before the refused deploys", now, free)
	}

	// (c) A state write on a full disk: refused in one line, nothing applied.
	os.Remove(filler)
	filler = fillDisk(t, dir, 0)
	val := strings.Repeat("x", 100<<10) // an argument is at most 128 kB
	out, code = d.berth("config:set", "--no-restart", "shop", "KEPT=after", "BIG="+val)
	lines = errorLinesOf(out)
	if code == 0 || len(lines) != 1 || !strings.Contains(lines[0], "disk is full") || !strings.Contains(lines[0], "free space") {
		t.Errorf("config:set on a full disk: exit %d, error lines %q\n%.2000s", code, lines, out)
	}
	t.Logf("refused config:set: %s", lines)
	if got := strings.TrimSpace(d.mustBerth(t, "config:get", "shop", "KEPT")); got != "before" {
		t.Errorf("KEPT = %q after the refused config:set", got)
	}
	if out, code := d.berth("config:get", "shop", "BIG"); code == 0 && strings.TrimSpace(out) != "" {
		t.Errorf("BIG was set by the refused config:set (%d bytes)", len(out))
	}

	// Space freed: writes and deploys work again.
	os.Remove(filler)
	d.mustBerth(t, "config:set", "--no-restart", "shop", "KEPT=after")
	if out, code := d.deployTar(t, "shop", bigAppTar(t, "v3", 6<<20)); code != 0 {
		t.Fatalf("deploy after freeing space: exit %d\n%s", code, out)
	}
	if v := webVersion(t, eng, d, "shop"); !strings.HasPrefix(v, "version=v3") {
		t.Errorf("after freeing space served %q", v)
	}
	checkDB(t, d)
}

// TestDiskFullDuringBackup: a redis backup into a directory on the data
// dir's full disk fails, is recorded as failed with the reason, leaves no
// partial file, and the service keeps running; with space freed the next
// backup works.
func TestDiskFullDuringBackup(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	dir := tmpfsDir(t, "48m")
	d := deployDaemonOn(t, eng, dir, serviceImageEnv...)
	d.mustBerth(t, "redis:create", "rb")
	// About 3 MB of incompressible values: the dump cannot fit in 1 MB.
	var cmds strings.Builder
	for i := range 3000 {
		b := make([]byte, 512)
		rand.Read(b)
		fmt.Fprintf(&cmds, "SET k%d %s\n", i, hex.EncodeToString(b))
	}
	d.dataRedis(t, "rb", cmds.String())
	backups := filepath.Join(dir, "backups")
	if err := os.Mkdir(backups, 0o700); err != nil {
		t.Fatal(err)
	}

	filler := fillDisk(t, dir, 1<<20)
	out, code := d.berth("redis:backup", "rb", backups)
	lines := errorLinesOf(out)
	if code == 0 || len(lines) != 1 || !strings.Contains(lines[0], "disk is full") || !strings.Contains(lines[0], backups) {
		t.Errorf("backup on a full disk: exit %d, error lines %q\n%s", code, lines, out)
	}
	t.Logf("refused backup: %s", lines)
	ents, _ := os.ReadDir(backups)
	for _, e := range ents {
		t.Errorf("the failed backup left %s in the backup directory", e.Name())
	}
	info := d.dataInfo(t, "redis", "rb")
	if info.Backup.LastFailed.IsZero() || !strings.Contains(info.Backup.LastError, "disk is full") || !info.Backup.LastOK.IsZero() {
		t.Errorf("backup summary after the failure: %+v", info.Backup)
	}
	if info.Status != "running" {
		t.Errorf("redis after the failed backup: %s", info.Status)
	}
	if got := d.dataRedis(t, "rb", "DBSIZE\n"); got != "3000" {
		t.Errorf("DBSIZE after the failed backup = %q", got)
	}

	os.Remove(filler)
	d.mustBerth(t, "redis:backup", "rb", backups)
	if files := d.dataBackups(t, "redis", "rb", backups); len(files) != 1 || files[0].Size < 1<<20 {
		t.Errorf("backups after freeing space: %+v", files)
	}
	checkDB(t, d)
}
