package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/minio/minio-go/v7"
)

// drillContainers are the daemon's throw-away containers of restore
// drills that exist now.
func drillContainers(t *testing.T, eng *docker.Client, d *daemon) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := eng.ListContainers(ctx, map[string]string{"berth.kind": "service-drill"}, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if strings.HasPrefix(c.Name, d.prefix()+"-berth-drill.") {
			out = append(out, c.Name)
		}
	}
	return out
}

// verifyRun runs postgres:backup-verify and returns stdout, the error
// lines and the exit code.
func verifyRun(d *daemon, args ...string) (string, []string, int) {
	out, errOut, code := d.berthSplit(nil, append([]string{"postgres:backup-verify"}, args...)...)
	return string(out), dataErrorLines(errOut), code
}

// TestBackupVerify: restore drills through the real binary on real
// Postgres. A backup records its row counts in the dump's snapshot (a
// writer running during the backup does not make them differ); the drill
// restores it into a throw-away container, prints the table and passes; a
// backup whose file holds other data (an older backup's bytes) fails with
// one line and exit 1, and so does a truncated one; the throw-away
// container is gone after each (Ctrl-C included) and the live service is
// untouched; encrypted backups are drilled with the service's passphrase;
// info and doctor show the last drill; a schedule with --verify drills
// after each backup.
func TestBackupVerify(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "postgres:create", "db")
	d.dataSQL(t, "db", `create table items (id int primary key, v text); insert into items select g, 'v' || g from generate_series(1, 300) g;`+
		` create table "Odd Name" (x int); insert into "Odd Name" values (1), (2); create schema extra; create table extra.empty (x int);`)
	dir := filepath.Join(t.TempDir(), "backups")
	noContainers := func(when string) {
		t.Helper()
		if left := drillContainers(t, eng, d); len(left) != 0 {
			t.Errorf("%s: throw-away containers left: %v", when, left)
		}
	}

	if _, lines, code := verifyRun(d, "db"); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "has no backup schedule") {
		t.Errorf("verify without a backup or schedule: exit %d %q", code, lines)
	}

	// A backup with a writer running: its counts are the dump's.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1001; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d.berthIn(strings.NewReader(fmt.Sprintf("insert into items values (%d, 'w');\n", i)), "postgres:connect", "db")
		}
	}()
	d.mustBerth(t, "postgres:backup", "db", dir)
	close(stop)
	wg.Wait()
	files := d.dataBackups(t, "postgres", "db", dir)
	if len(files) != 1 {
		t.Fatalf("backups: %+v", files)
	}
	first := files[0]
	liveID := d.dataInfo(t, "postgres", "db").ID

	out, lines, code := verifyRun(d, "db", first.Path)
	if code != 0 || len(lines) != 0 {
		t.Fatalf("verify: exit %d %q\n%s", code, lines, out)
	}
	for _, re := range []string{`Starting a throw-away \S+ container \(` + regexp.QuoteMeta(d.prefix()) + `-berth-drill\.postgres\.db\.[0-9a-f]{6}\)`,
		`\n\s+public\.items\s+(\d+)\s+(\d+)\s+ok\n`, `\n\s+public\."Odd Name"\s+2\s+2\s+ok\n`, `\n\s+extra\.empty\s+0\s+0\s+ok\n`,
		`=====> Restore drill passed: 3 tables, \d+ rows, every count as recorded at backup time\n$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("verify output lacks %s:\n%s", re, out)
		}
	}
	noContainers("after a drill that passed")

	// Another backup, then its file replaced by the first's bytes: the
	// counts recorded with it are not what it restores.
	d.dataSQL(t, "db", "insert into items values (100000, 'new'); delete from \"Odd Name\" where x = 1;")
	d.mustBerth(t, "postgres:backup", "db", dir)
	files = d.dataBackups(t, "postgres", "db", dir)
	second := files[len(files)-1]
	firstBytes, err := os.ReadFile(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second.Path, firstBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	out, lines, code = verifyRun(d, "db", second.Path)
	if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "Restore drill of postgres service db from "+second.Name+" failed: 2 of 3 tables differ from the counts recorded at backup time (") {
		t.Errorf("verify of a swapped file: exit %d %q\n%s", code, lines, out)
	}
	if !regexp.MustCompile(`\n\s+public\."Odd Name"\s+1\s+2\s+DIFFERS\n`).MatchString(out) {
		t.Errorf("verify output of a swapped file:\n%s", out)
	}
	noContainers("after a drill that found other counts")
	if got := d.mustBerth(t, "postgres:info", "db", "--backup-drill"); !strings.HasPrefix(got, "FAILED ") || !strings.Contains(got, second.Path+": 2 of 3 tables differ") {
		t.Errorf("info --backup-drill after a failed drill: %q", got)
	}

	// A truncated backup does not restore.
	if err := os.WriteFile(second.Path, firstBytes[:len(firstBytes)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	out, lines, code = verifyRun(d, "db", second.Path)
	if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "failed: the backup does not restore: pg_restore failed") {
		t.Errorf("verify of a truncated file: exit %d %q\n%s", code, lines, out)
	}
	noContainers("after a drill whose restore failed")
	if info := d.dataInfo(t, "postgres", "db"); info.ID != liveID || info.Status != "running" {
		t.Errorf("the live service after the drills: %s %s (was %s)", info.ID, info.Status, liveID)
	}
	if got := d.dataSQL(t, "db", `select count(*) from items where id = 100000; select count(*) from "Odd Name";`); got != "1\n1" {
		t.Errorf("the live service's data after the drills: %q", got)
	}

	// Doctor: a scheduled service whose last drill failed is a problem.
	d.mustBerth(t, "postgres:backup-schedule", "db", "0 3 1 1 *", dir, "--verify")
	if got := strings.TrimSpace(d.mustBerth(t, "postgres:backup-schedule-cat", "db")); got != `"0 3 1 1 *" `+dir+" --keep 7 --verify" {
		t.Errorf("backup-schedule-cat = %q", got)
	}
	doc, _ := d.berth("doctor")
	if !strings.Contains(doc, "PROBLEM  postgres db: the last restore drill failed (") || !strings.Contains(doc, "fix: berth postgres:backup-verify db") {
		t.Errorf("doctor after a failed drill:\n%s", doc)
	}

	// Encrypted with the service's passphrase; the newest backup by
	// default (by name from the schedule's directory).
	os.Remove(second.Path)
	d.mustBerth(t, "postgres:backup-set-encryption", "db", "a drill passphrase")
	d.mustBerth(t, "postgres:backup", "db", dir)
	files = d.dataBackups(t, "postgres", "db", dir)
	enc := files[len(files)-1]
	if !strings.HasSuffix(enc.Name, ".age") {
		t.Fatalf("encrypted backup: %+v", enc)
	}
	out, lines, code = verifyRun(d, "db")
	if code != 0 || !strings.Contains(out, "from "+enc.Path+"\n") || !strings.Contains(out, "Restore drill passed: 3 tables") {
		t.Errorf("verify of the newest (encrypted): exit %d %q\n%s", code, lines, out)
	}
	if _, lines, code := verifyRun(d, "db", enc.Name, "--passphrase", "wrong"); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "cannot be decrypted with the key given") {
		t.Errorf("verify with a wrong passphrase: exit %d %q", code, lines)
	}
	if got := d.mustBerth(t, "postgres:info", "db", "--backup-drill"); !strings.HasPrefix(got, "FAILED ") {
		t.Errorf("info --backup-drill after a wrong passphrase: %q", got)
	}
	d.mustBerth(t, "postgres:backup-unset-encryption", "db")

	// Ctrl-C during the drill: the throw-away container goes all the same.
	cmd := exec.Command(filepath.Join(binDir, "berth"), "postgres:backup-verify", "db", first.Path)
	cmd.Env = d.env()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	started := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Starting a throw-away") {
			started = true
			break
		}
	}
	if !started {
		t.Fatalf("the drill did not start a container")
	}
	waitFor(t, 30*time.Second, "the throw-away container", func() bool { return len(drillContainers(t, eng, d)) == 1 })
	cmd.Process.Signal(syscall.SIGINT)
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err == nil {
		t.Errorf("backup-verify interrupted: exit 0")
	}
	waitFor(t, 90*time.Second, "the throw-away container removed after Ctrl-C", func() bool { return len(drillContainers(t, eng, d)) == 0 })

	// A schedule with --verify drills after each backup.
	d.mustBerth(t, "postgres:backup-schedule", "db", "@every 2s", dir, "--verify", "--keep", "3")
	waitFor(t, 120*time.Second, "a drill after a scheduled backup", func() bool {
		ld := d.dataInfo(t, "postgres", "db").Backup.LastDrill
		return ld != nil && ld.OK && ld.Scheduled && ld.Compared
	})
	d.mustBerth(t, "postgres:backup-unschedule", "db")
	if got := d.mustBerth(t, "postgres:info", "db", "--backup-drill"); !strings.HasPrefix(got, "ok ") || !strings.Contains(got, "(3 tables, ") {
		t.Errorf("info --backup-drill after a scheduled drill: %q", got)
	}
	d.mustBerth(t, "postgres:backup-schedule", "db", "0 3 1 1 *", dir)
	doc, _ = d.berth("doctor")
	if !regexp.MustCompile(`ok\s+postgres db: the last restore drill passed `).MatchString(doc) {
		t.Errorf("doctor after a drill that passed:\n%s", doc)
	}
	noContainers("at the end")
}

// TestBackupVerifyS3: a drill of an encrypted backup in a bucket: its
// sha256 checked, decrypted with the service's passphrase, restored and
// compared; a damaged object fails the drill with one line; the newest
// backup of a schedule to the bucket is the default.
func TestBackupVerifyS3(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	s3 := startSeaweedFS(t)
	s3.makeBucket(t, "drill-backups")
	d := serviceDaemon(t, eng)
	d.mustBerth(t, "postgres:create", "db")
	d.dataSQL(t, "db", "create table items (id int primary key, v text); insert into items select g, 'v' || g from generate_series(1, 250) g;")
	d.mustBerth(t, "postgres:backup-auth", "db", s3.access, s3.secret, "us-east-1", "s3v4", s3.endpoint)
	d.mustBerth(t, "postgres:backup-set-encryption", "db", "an s3 drill passphrase")
	f := d.backupTo(t, "postgres", "db", "drill-backups/nightly")
	if !f.Encrypted || f.Path != "s3://drill-backups/nightly/"+f.Name {
		t.Fatalf("backup: %+v", f)
	}
	out, lines, code := verifyRun(d, "db", f.Path)
	if code != 0 || !strings.Contains(out, "Checksum verified: sha256 ") || !regexp.MustCompile(`\n\s+public\.items\s+250\s+250\s+ok\n`).MatchString(out) ||
		!strings.Contains(out, "Restore drill passed: 1 tables, 250 rows, every count as recorded at backup time") {
		t.Errorf("verify of an S3 backup: exit %d %q\n%s", code, lines, out)
	}
	// By default, the newest backup of the schedule's bucket.
	d.mustBerth(t, "postgres:backup-schedule", "db", "0 3 1 1 *", "drill-backups/nightly", "--verify")
	if out, lines, code := verifyRun(d, "db"); code != 0 || !strings.Contains(out, "from "+f.Path+"\n") {
		t.Errorf("verify of the newest in the bucket: exit %d %q\n%s", code, lines, out)
	}

	// A damaged object: refused before the restore.
	ctx := context.Background()
	obj := s3.object(t, "drill-backups", "nightly/"+f.Name)
	bad := append([]byte{}, obj...)
	bad[len(bad)/2] ^= 0xff
	if _, err := s3.client.PutObject(ctx, "drill-backups", "nightly/"+f.Name, bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	out, lines, code = verifyRun(d, "db", f.Name)
	if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "Restore drill of postgres service db from "+f.Name+" failed: ") || !strings.Contains(lines[0], "is damaged") {
		t.Errorf("verify of a damaged object: exit %d %q\n%s", code, lines, out)
	}
	if got := d.mustBerth(t, "postgres:info", "db", "--backup-drill"); !strings.HasPrefix(got, "FAILED ") || !strings.Contains(got, f.Path) {
		t.Errorf("info --backup-drill: %q", got)
	}
	if left := drillContainers(t, eng, d); len(left) != 0 {
		t.Errorf("throw-away containers left: %v", left)
	}
}
