package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/berthpaas/berth/internal/api"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Off-site backups against a real S3-compatible server: SeaweedFS's
// `weed server -s3`, built once by scripts/build-seaweedfs and started by
// each test on 127.0.0.1 (docs/data-safety.md).

// s3Server is a SeaweedFS started by a test.
type s3Server struct {
	endpoint       string // http://127.0.0.1:PORT
	access, secret string
	client         *minio.Client
}

var weedBuild struct {
	sync.Mutex
	dir string
}

// buildSeaweedFS runs scripts/build-seaweedfs (cached after the first run).
func buildSeaweedFS(t *testing.T) string {
	t.Helper()
	weedBuild.Lock()
	defer weedBuild.Unlock()
	if weedBuild.dir != "" {
		return weedBuild.dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", "../scripts/build-seaweedfs")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/build-seaweedfs: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	weedBuild.dir = lines[len(lines)-1]
	return weedBuild.dir
}

// freeWeedPorts returns n free TCP ports on 127.0.0.1 (SeaweedFS is given
// each of its ports, gRPC ones included, so that nothing takes a default).
func freeWeedPorts(t *testing.T, n int) []int {
	t.Helper()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startSeaweedFS starts `weed server -s3` on 127.0.0.1 with one identity,
// and waits until its S3 API answers. It is killed at the end of the test.
func startSeaweedFS(t *testing.T) *s3Server {
	t.Helper()
	bin := filepath.Join(buildSeaweedFS(t), "weed")
	dir := t.TempDir()
	s := &s3Server{access: "berthtestkey", secret: "berth-test-secret-" + strconv.Itoa(os.Getpid())}
	conf := fmt.Sprintf(`{"identities":[{"name":"berth","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`, s.access, s.secret)
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	p := freeWeedPorts(t, 8)
	args := []string{"server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + data, "-s3", "-filer",
		"-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=16",
		fmt.Sprintf("-master.port=%d", p[0]), fmt.Sprintf("-master.port.grpc=%d", p[1]),
		fmt.Sprintf("-volume.port=%d", p[2]), fmt.Sprintf("-volume.port.grpc=%d", p[3]),
		fmt.Sprintf("-filer.port=%d", p[4]), fmt.Sprintf("-filer.port.grpc=%d", p[5]),
		fmt.Sprintf("-s3.port=%d", p[6]), fmt.Sprintf("-s3.port.grpc=%d", p[7]),
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + filepath.Join(dir, "s3.json"),
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"), "-s3.localSocket=" + filepath.Join(dir, "s3.sock")}
	log, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		log.Close()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "weed.log")); err == nil {
				t.Logf("weed log (tail):\n%s", b[max(0, len(b)-4000):])
			}
		}
	})
	s.endpoint = fmt.Sprintf("http://127.0.0.1:%d", p[6])
	s.client, err = minio.New(fmt.Sprintf("127.0.0.1:%d", p[6]), &minio.Options{Creds: credentials.NewStaticV4(s.access, s.secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.client.ListBuckets(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SeaweedFS S3 did not answer on %s: %v", s.endpoint, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	return s
}

func (s *s3Server) makeBucket(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := s.client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: "us-east-1"})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("make bucket %s: %v", name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// object reads an object whole; nil when it does not exist.
func (s *s3Server) object(t *testing.T, bucket, key string) []byte {
	t.Helper()
	o, err := s.client.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil
		}
		t.Fatalf("read %s/%s: %v", bucket, key, err)
	}
	return b
}

// keys lists a bucket's object keys under prefix.
func (s *s3Server) keys(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	var out []string
	for o := range s.client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s: %v", bucket, o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}

// backupTo runs KIND:backup and returns the backup's name from the list.
func (d *daemon) backupTo(t *testing.T, kind, name, bucket string, extra ...string) api.BackupFile {
	t.Helper()
	before := map[string]bool{}
	for _, f := range d.dataBackups(t, kind, name, bucket) {
		before[f.Name] = true
	}
	out := d.mustBerth(t, append([]string{kind + ":backup", name, bucket}, extra...)...)
	if !strings.Contains(out, "Verified after upload: sha256 ") {
		t.Errorf("%s:backup to %s does not say it verified the upload:\n%s", kind, bucket, out)
	}
	for _, f := range d.dataBackups(t, kind, name, bucket) {
		if !before[f.Name] {
			return f
		}
	}
	t.Fatalf("%s:backup to %s: no new backup listed\n%s", kind, bucket, out)
	return api.BackupFile{}
}

// TestBackupS3Postgres: backup-auth, a backup streamed to a bucket,
// verified by its sha256, listed, and restored into a fresh service;
// retention per target; a damaged object is refused; with encryption the
// object is not plaintext, the right passphrase restores, a wrong one fails
// with one line and changes nothing; a schedule to the bucket runs.
func TestBackupS3Postgres(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	s3 := startSeaweedFS(t)
	s3.makeBucket(t, "berth-backups")
	d := serviceDaemon(t, eng)
	ctx := context.Background()

	d.mustBerth(t, "postgres:create", "db")
	d.dataSQL(t, "db", "create table items (id int primary key, v text); insert into items select g, 'secret-row-' || g from generate_series(1, 500) g;")
	want := d.dataSQL(t, "db", dataRowsQuery)

	// Without credentials a bucket is refused, in one line.
	out, errOut, code := d.berthSplit(nil, "postgres:backup", "db", "berth-backups")
	if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "no backup credentials") || !strings.Contains(lines[0], "postgres:backup-auth") {
		t.Errorf("backup to a bucket without auth: exit %d %q\n%s", code, lines, out)
	}

	// Dokku's order: key, secret, region, signature version, endpoint.
	d.mustBerth(t, "postgres:backup-auth", "db", s3.access, s3.secret, "us-east-1", "s3v4", s3.endpoint)
	info := d.mustBerth(t, "postgres:info", "db")
	if strings.Contains(info, s3.secret) || !strings.Contains(info, "Backup auth:") || !strings.Contains(info, s3.endpoint) {
		t.Errorf("info after backup-auth:\n%s", info)
	}
	if out := d.mustBerth(t, "postgres:info", "db", "--backup-auth"); !strings.HasPrefix(strings.TrimSpace(out), "set (endpoint "+s3.endpoint) {
		t.Errorf("info --backup-auth = %q", out)
	}
	root := filepath.Join(d.dataDir, "services", "postgres", "db")
	if st, err := os.Stat(filepath.Join(root, "BACKUP-AUTH")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v %v", st, err)
	}

	first := d.backupTo(t, "postgres", "db", "berth-backups")
	if first.Path != "s3://berth-backups/"+first.Name || first.Encrypted || !strings.HasSuffix(first.Name, ".dump") {
		t.Errorf("listed backup: %+v", first)
	}
	obj := s3.object(t, "berth-backups", first.Name)
	if !bytes.HasPrefix(obj, []byte("PGDMP")) || int64(len(obj)) != first.Size {
		t.Fatalf("object %s: %d bytes starting %q, listed size %d", first.Name, len(obj), obj[:min(len(obj), 8)], first.Size)
	}
	sum := sha256.Sum256(obj)
	if side := string(s3.object(t, "berth-backups", first.Name+".sha256")); side != hex.EncodeToString(sum[:])+"  "+first.Name+"\n" {
		t.Errorf("recorded checksum %q, object's sha256 %x", side, sum)
	}

	// Restore into a fresh service (its own credentials for the bucket).
	d.mustBerth(t, "postgres:create", "fresh")
	d.mustBerth(t, "postgres:backup-auth", "fresh", s3.access, s3.secret, "us-east-1", "s3v4", s3.endpoint)
	if out := d.mustBerth(t, "postgres:backup-restore", "fresh", first.Path); !strings.Contains(out, "Checksum verified") {
		t.Errorf("restore did not check the checksum:\n%s", out)
	}
	if got := d.dataSQL(t, "fresh", dataRowsQuery); got != want {
		t.Errorf("rows restored from S3 = %.80q..., want %.80q...", got, want)
	}

	// Retention per target: --keep 2 leaves the newest two (and their
	// checksums) in the bucket.
	d.backupTo(t, "postgres", "db", "berth-backups")
	third := d.backupTo(t, "postgres", "db", "berth-backups", "--keep", "2")
	files := d.dataBackups(t, "postgres", "db", "berth-backups")
	if len(files) != 2 || files[1].Name != third.Name {
		t.Errorf("after --keep 2: %+v", files)
	}
	if keys := s3.keys(t, "berth-backups", ""); len(keys) != 4 || s3.object(t, "berth-backups", first.Name) != nil {
		t.Errorf("bucket after --keep 2: %v", keys)
	}

	// A damaged object is refused before a byte reaches the service.
	d.dataSQL(t, "fresh", "delete from items where id > 10;")
	kept := d.dataSQL(t, "fresh", dataRowsQuery)
	good := s3.object(t, "berth-backups", third.Name)
	bad := append([]byte{}, good...)
	bad[len(bad)/2] ^= 0xff
	if _, err := s3.client.PutObject(ctx, "berth-backups", third.Name, bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = d.berthSplit(nil, "postgres:backup-restore", "fresh", third.Path)
	if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "is damaged") || !strings.Contains(lines[0], "nothing was changed") {
		t.Errorf("restore of a damaged object: exit %d %q\n%s", code, lines, out)
	}
	if got := d.dataSQL(t, "fresh", dataRowsQuery); got != kept {
		t.Errorf("rows after a refused restore = %q, want %q", got, kept)
	}

	// Encryption: the object is age, not the dump.
	d.mustBerth(t, "postgres:backup-set-encryption", "db", "correct horse battery")
	if out := d.mustBerth(t, "postgres:info", "db", "--backup-encryption"); strings.TrimSpace(out) != "passphrase" || strings.Contains(d.mustBerth(t, "postgres:info", "db"), "correct horse") {
		t.Errorf("info --backup-encryption = %q", out)
	}
	enc := d.backupTo(t, "postgres", "db", "berth-backups")
	obj = s3.object(t, "berth-backups", enc.Name)
	if !enc.Encrypted || !strings.HasSuffix(enc.Name, ".dump.age") || !bytes.HasPrefix(obj, []byte("age-encryption.org/v1")) || bytes.Contains(obj, []byte("PGDMP")) || bytes.Contains(obj, []byte("secret-row-")) {
		t.Fatalf("encrypted backup %+v: object starts %q", enc, obj[:min(len(obj), 24)])
	}
	// No key, then a wrong one: one line, exit 1, the rows stay.
	for _, args := range [][]string{{}, {"--passphrase", "wrong horse"}} {
		out, errOut, code := d.berthSplit(nil, append([]string{"postgres:backup-restore", "fresh", enc.Path}, args...)...)
		want := "cannot be decrypted"
		if len(args) == 0 {
			want = "is encrypted"
		}
		if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], want) || !strings.Contains(lines[0], "nothing was changed") {
			t.Errorf("restore %v: exit %d %q\n%s", args, code, lines, out)
		}
		if got := d.dataSQL(t, "fresh", dataRowsQuery); got != kept {
			t.Errorf("rows after a failed decryption = %q, want %q", got, kept)
		}
	}
	d.mustBerth(t, "postgres:backup-restore", "fresh", enc.Path, "--passphrase", "correct horse battery")
	if got := d.dataSQL(t, "fresh", dataRowsQuery); got != want {
		t.Errorf("rows restored from the encrypted backup = %.80q..., want %.80q...", got, want)
	}
	// The service's own passphrase decrypts its backups by default.
	d.dataSQL(t, "db", "delete from items where id > 5;")
	d.mustBerth(t, "postgres:backup-restore", "db", enc.Path)
	if got := d.dataSQL(t, "db", dataRowsQuery); got != want {
		t.Errorf("rows after restoring db's own encrypted backup = %.80q...", got)
	}
	d.mustBerth(t, "postgres:backup-unset-encryption", "db")
	if out := d.mustBerth(t, "postgres:info", "db", "--backup-encryption"); strings.TrimSpace(out) != "-" {
		t.Errorf("info --backup-encryption after unset = %q", out)
	}

	// A schedule to the bucket (under a prefix) runs, keeping 1.
	d.mustBerth(t, "postgres:backup-schedule", "db", "@every 2s", "berth-backups/sched", "--keep", "1")
	if out := d.mustBerth(t, "postgres:backup-schedule-cat", "db"); !strings.Contains(out, "s3://berth-backups/sched") {
		t.Errorf("backup-schedule-cat = %q", out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(s3.keys(t, "berth-backups", "sched/")) < 2 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
	}
	d.mustBerth(t, "postgres:backup-unschedule", "db")
	if files := d.dataBackups(t, "postgres", "db", "berth-backups/sched"); len(files) != 1 || !strings.HasPrefix(files[0].Path, "s3://berth-backups/sched/") {
		t.Errorf("scheduled backups in the bucket: %+v", files)
	}
	if ok := d.dataInfo(t, "postgres", "db").Backup.LastOK; ok.IsZero() {
		t.Error("no scheduled backup recorded")
	}

	// deauth: the bucket is refused again.
	d.mustBerth(t, "postgres:backup-deauth", "db")
	if _, errOut, code := d.berthSplit(nil, "postgres:backup", "db", "berth-backups"); code != 1 || !strings.Contains(string(errOut), "no backup credentials") {
		t.Errorf("backup after deauth: exit %d %s", code, errOut)
	}
	if out := d.mustBerth(t, "postgres:info", "db", "--backup-auth"); strings.TrimSpace(out) != "-" {
		t.Errorf("info --backup-auth after deauth = %q", out)
	}
}

// TestBackupS3Redis: a Redis round trip through a bucket, encrypted to an
// age recipient, restored with the identity.
func TestBackupS3Redis(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	s3 := startSeaweedFS(t)
	s3.makeBucket(t, "redis-backups")
	d := serviceDaemon(t, eng)

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	d.mustBerth(t, "redis:create", "ra")
	d.dataRedis(t, "ra", "set greeting plaintext-hello\nrpush list a b c\n")
	d.mustBerth(t, "redis:backup-auth", "ra", s3.access, s3.secret, "us-east-1", "s3v4", s3.endpoint)
	d.mustBerth(t, "redis:backup-set-encryption", "ra", "--recipient", id.Recipient().String())
	if out := d.mustBerth(t, "redis:info", "ra", "--backup-encryption"); strings.TrimSpace(out) != "1 age recipient" {
		t.Errorf("info --backup-encryption = %q", out)
	}
	f := d.backupTo(t, "redis", "ra", "redis-backups/nightly")
	obj := s3.object(t, "redis-backups", "nightly/"+f.Name)
	if !strings.HasSuffix(f.Name, ".rdb.age") || !bytes.HasPrefix(obj, []byte("age-encryption.org/v1")) || bytes.Contains(obj, []byte("plaintext-hello")) {
		t.Fatalf("encrypted redis backup %+v starts %q", f, obj[:min(len(obj), 24)])
	}

	d.mustBerth(t, "redis:create", "rb")
	d.dataRedis(t, "rb", "set stale 1\n")
	d.mustBerth(t, "redis:backup-auth", "rb", s3.access, s3.secret, "us-east-1", "s3v4", s3.endpoint)
	// Another identity: one line, the data stays.
	other, _ := age.GenerateX25519Identity()
	otherFile := filepath.Join(t.TempDir(), "other.txt")
	os.WriteFile(otherFile, []byte(other.String()+"\n"), 0o600)
	out, errOut, code := d.berthSplit(nil, "redis:backup-restore", "rb", f.Path, "--identity-file", otherFile)
	if lines := dataErrorLines(errOut); code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "cannot be decrypted") {
		t.Errorf("restore with another identity: exit %d %q\n%s", code, lines, out)
	}
	if got := d.dataRedis(t, "rb", "get stale\n"); got != "1" {
		t.Errorf("rb after a failed restore: %q", got)
	}
	d.mustBerth(t, "redis:backup-restore", "rb", f.Path, "--identity-file", idFile)
	if got := d.dataRedis(t, "rb", "get greeting\nlrange list 0 -1\nexists stale\n"); got != "plaintext-hello\na\nb\nc\n0" {
		t.Errorf("rb after the restore: %q", got)
	}
}
