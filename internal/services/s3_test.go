package services

import (
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

func TestCheckS3Auth(t *testing.T) {
	a, err := checkS3Auth(api.ServiceBackupAuth{AccessKeyID: "AK", SecretAccessKey: "very-secret"})
	if err != nil || a.Region != "us-east-1" || a.SignatureVersion != "s3v4" || a.EndpointURL != "" {
		t.Errorf("defaults: %+v %v", a, err)
	}
	if d := a.describe(); strings.Contains(d, "very-secret") || !strings.Contains(d, "AWS S3") {
		t.Errorf("describe = %q", d)
	}
	a, err = checkS3Auth(api.ServiceBackupAuth{AccessKeyID: "AK", SecretAccessKey: "very-secret", Region: "eu-west-3", SignatureVersion: "V2", EndpointURL: "http://127.0.0.1:8333"})
	if err != nil || a.SignatureVersion != "s3v2" {
		t.Errorf("full: %+v %v", a, err)
	}
	if d := a.describe(); strings.Contains(d, "very-secret") || !strings.Contains(d, "http://127.0.0.1:8333") || !strings.Contains(d, "eu-west-3") {
		t.Errorf("describe = %q", d)
	}
	for _, c := range []struct {
		req  api.ServiceBackupAuth
		want string
	}{
		{api.ServiceBackupAuth{AccessKeyID: "AK"}, "secret access key"},
		{api.ServiceBackupAuth{AccessKeyID: "AK", SecretAccessKey: "S", SignatureVersion: "s3v3"}, "use s3v4 or s3v2"},
		{api.ServiceBackupAuth{AccessKeyID: "AK", SecretAccessKey: "S", EndpointURL: "ftp://x"}, "Endpoint URL"},
		{api.ServiceBackupAuth{AccessKeyID: "AK", SecretAccessKey: "S", EndpointURL: "http://x/path"}, "no path"},
		{api.ServiceBackupAuth{AccessKeyID: "AK", SecretAccessKey: "S", EndpointURL: "127.0.0.1:9000"}, "Endpoint URL"},
	} {
		if _, err := checkS3Auth(c.req); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "very-secret") {
			t.Errorf("%+v: %v, want %q", c.req, err, c.want)
		}
	}
}

func TestParseBucket(t *testing.T) {
	for _, c := range []struct{ in, bucket, prefix string }{
		{"backups", "backups", ""},
		{"s3://backups", "backups", ""},
		{"my.backups/db/daily", "my.backups", "db/daily"},
		{"s3://b-1/x/", "b-1", "x"},
	} {
		b, p, err := parseBucket(c.in)
		if err != nil || b != c.bucket || p != c.prefix {
			t.Errorf("parseBucket(%q) = %q %q %v", c.in, b, p, err)
		}
	}
	for _, bad := range []string{"", "ab", "Upper", "-x-", "a..b", "b/../x", "b/./x", "b/.hidden", "s3://", "x_y"} {
		if _, _, err := parseBucket(bad); err == nil {
			t.Errorf("parseBucket(%q) accepted", bad)
		}
	}
	if !isLocalDir("/var/backups") || isLocalDir("backups") || isLocalDir("s3://b") {
		t.Error("isLocalDir")
	}
}

func TestS3TargetNames(t *testing.T) {
	st, err := newS3Target(t.Context(), s3Auth{AccessKeyID: "a", SecretAccessKey: "b", EndpointURL: "http://127.0.0.1:1"}, false, "bk", "db/daily")
	if err != nil {
		t.Fatal(err)
	}
	if st.String() != "s3://bk/db/daily" || st.key("f.dump") != "db/daily/f.dump" || targetPath(st, "f.dump") != "s3://bk/db/daily/f.dump" {
		t.Errorf("names: %s %s", st, st.key("f.dump"))
	}
	if targetPath(localDir{"/b"}, "f.dump") != "/b/f.dump" {
		t.Error("local targetPath")
	}
	if err := st.Put("../x", strings.NewReader("")); err == nil {
		t.Error("Put of a bad name")
	}
}
