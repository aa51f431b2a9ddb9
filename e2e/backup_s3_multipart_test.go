package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestBackupS3MultipartPostgres: a dump larger than one upload part
// (16 MiB, the only buffer of the streamed upload) goes up in several
// parts, its checksum is read back, and it restores whole.
func TestBackupS3MultipartPostgres(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	s3 := startSeaweedFS(t)
	s3.makeBucket(t, "big-backups")
	d := serviceDaemon(t, eng)

	d.mustBerth(t, "postgres:create", "big")
	// A million md5 strings: 32 MB of hex, about 22 MB once the dump
	// compresses it (two parts).
	d.dataSQL(t, "big", "create table blobs (id int primary key, v text); insert into blobs select g, md5(g::text || random()::text) from generate_series(1, 1000000) g;")
	const digest = "select count(*) || ' ' || md5(string_agg(v, '' order by id)) from blobs;"
	want := d.dataSQL(t, "big", digest)
	d.mustBerth(t, "postgres:backup-auth", "big", s3.access, s3.secret, "us-east-1", "s3v4", s3.endpoint)

	b := d.backupTo(t, "postgres", "big", "big-backups")
	if b.Size <= 16<<20 {
		t.Fatalf("the dump is %d bytes, not over one 16 MiB part: the test needs more rows", b.Size)
	}
	st, err := s3.client.StatObject(context.Background(), "big-backups", b.Name, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// An object uploaded in N parts has the ETag "MD5-OF-PART-MD5S-N".
	if st.Size != b.Size || !strings.Contains(st.ETag, "-") {
		t.Fatalf("object %s: %d bytes, ETag %q; want %d bytes uploaded in parts", b.Name, st.Size, st.ETag, b.Size)
	}

	d.mustBerth(t, "postgres:create", "copy")
	d.mustBerth(t, "postgres:backup-auth", "copy", s3.access, s3.secret, "us-east-1", "s3v4", s3.endpoint)
	if out := d.mustBerth(t, "postgres:backup-restore", "copy", b.Path); !strings.Contains(out, "Checksum verified") {
		t.Errorf("restore did not check the checksum:\n%s", out)
	}
	if got := d.dataSQL(t, "copy", digest); got != want {
		t.Fatalf("restored rows %q, want %q", got, want)
	}
	t.Logf("%d bytes in parts (ETag %s), restored whole", b.Size, st.ETag)
}

// TestBackupS3UseIAM: `--use-iam` takes the credentials from the host's
// role rather than backup-auth's. The role's endpoint here is AWS's
// container-credentials protocol (AWS_CONTAINER_CREDENTIALS_FULL_URI, the
// one of the sources minio-go's IAM provider asks) served on loopback with
// SeaweedFS's keys; backup-auth holds wrong keys and the endpoint, so
// only the role's keys can upload.
func TestBackupS3UseIAM(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	requireServiceImages(t)
	s3 := startSeaweedFS(t)
	s3.makeBucket(t, "iam-backups")
	var asked atomic.Int32
	role := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		json.NewEncoder(w).Encode(map[string]any{
			"AccessKeyId": s3.access, "SecretAccessKey": s3.secret, "Token": "",
			"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
	}))
	defer role.Close()
	d := serviceDaemon(t, eng, "AWS_CONTAINER_CREDENTIALS_FULL_URI="+role.URL+"/role")

	d.mustBerth(t, "redis:create", "cache")
	d.dataRedis(t, "cache", "set k iam-value\n")
	d.mustBerth(t, "redis:backup-auth", "cache", "WRONGKEY", "wrong-secret", "us-east-1", "s3v4", s3.endpoint)
	if _, errOut, code := d.berthSplit(nil, "redis:backup", "cache", "iam-backups"); code == 0 {
		t.Fatalf("backup-auth's wrong keys uploaded a backup:\n%s", errOut)
	}
	if asked.Load() != 0 {
		t.Fatalf("the role's endpoint was asked %d times without --use-iam", asked.Load())
	}
	out := d.mustBerth(t, "redis:backup", "cache", "iam-backups", "--use-iam")
	if !strings.Contains(out, "Verified after upload: sha256 ") || asked.Load() == 0 {
		t.Fatalf("backup --use-iam (role asked %d times):\n%s", asked.Load(), out)
	}
	keys := s3.keys(t, "iam-backups", "")
	if len(keys) != 2 { // the dump and its .sha256
		t.Fatalf("bucket after backup --use-iam: %v", keys)
	}
}
