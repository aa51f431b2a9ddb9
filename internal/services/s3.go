package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Off-site backups: S3-compatible storage as a backupTarget, and the
// credentials of KIND:backup-auth kept in the service's root (as Dokku
// keeps them in the service's directory), readable by root only.

// backupAuthFile holds a service's S3 credentials (JSON, mode 0600).
const backupAuthFile = "BACKUP-AUTH"

// s3PartSize is the part size of multipart uploads: the only buffer an
// upload holds (in memory), whatever the dump's size.
const s3PartSize = 16 << 20

// s3Auth is a service's S3 credentials and where the storage is.
type s3Auth struct {
	AccessKeyID      string `json:"access_key_id"`
	SecretAccessKey  string `json:"secret_access_key"`
	Region           string `json:"region"`
	SignatureVersion string `json:"signature_version"`
	EndpointURL      string `json:"endpoint_url"`
}

// describe is what info shows: never the secret.
func (a s3Auth) describe() string {
	ep := a.EndpointURL
	if ep == "" {
		ep = "AWS S3"
	}
	return fmt.Sprintf("set (endpoint %s, region %s, signature %s)", ep, a.Region, a.SignatureVersion)
}

// checkS3Auth validates backup-auth's arguments and fills the defaults.
func checkS3Auth(req api.ServiceBackupAuth) (s3Auth, error) {
	a := s3Auth{AccessKeyID: strings.TrimSpace(req.AccessKeyID), SecretAccessKey: req.SecretAccessKey,
		Region: strings.TrimSpace(req.Region), SignatureVersion: strings.ToLower(strings.TrimSpace(req.SignatureVersion)), EndpointURL: strings.TrimSpace(req.EndpointURL)}
	if a.AccessKeyID == "" || a.SecretAccessKey == "" {
		return a, api.Errorf(api.CodeInvalid, "Please specify an access key id and a secret access key")
	}
	if a.Region == "" {
		a.Region = "us-east-1"
	}
	switch a.SignatureVersion {
	case "":
		a.SignatureVersion = "s3v4"
	case "s3v4", "v4":
		a.SignatureVersion = "s3v4"
	case "s3v2", "v2":
		a.SignatureVersion = "s3v2"
	default:
		return a, api.Errorf(api.CodeInvalid, "Signature version %q: use s3v4 or s3v2", req.SignatureVersion)
	}
	if a.EndpointURL != "" {
		if _, _, err := parseEndpoint(a.EndpointURL); err != nil {
			return a, api.Errorf(api.CodeInvalid, "Endpoint URL %q: %v", a.EndpointURL, err)
		}
	}
	return a, nil
}

// parseEndpoint reads an endpoint URL (http(s)://HOST[:PORT]) as minio
// wants it: the host and whether to use TLS.
func parseEndpoint(raw string) (host string, secure bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false, errors.New("give http://HOST[:PORT] or https://HOST[:PORT]")
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, errors.New("give only a scheme, host and port (no path, query or user)")
	}
	return u.Host, u.Scheme == "https", nil
}

func (m *Manager) backupAuthPath(svc store.Service) string {
	return filepath.Join(m.serviceRoot(svc.Kind, svc.Name), backupAuthFile)
}

// backupAuth reads the service's S3 credentials; ok is false when none.
func (m *Manager) backupAuth(svc store.Service) (a s3Auth, ok bool, err error) {
	data, err := os.ReadFile(m.backupAuthPath(svc))
	if errors.Is(err, os.ErrNotExist) {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return a, false, fmt.Errorf("%s: %w", m.backupAuthPath(svc), err)
	}
	return a, true, nil
}

func (m *Manager) serviceBackupAuth(ctx context.Context, req api.ServiceBackupAuth, _ api.Output) (api.Empty, error) {
	_, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.Empty{}, err
	}
	a, err := checkS3Auth(req)
	if err != nil {
		return api.Empty{}, err
	}
	data, _ := json.Marshal(a)
	defer m.lock(req.Kind, req.Name)()
	if err := writeFileAtomic(m.backupAuthPath(svc), data, 0o600); err != nil {
		return api.Empty{}, api.Errorf(api.CodeInternal, "Backup credentials not saved: %v", err)
	}
	m.log.Info("service backup credentials set", "kind", svc.Kind, "name", svc.Name, "endpoint", a.EndpointURL, "region", a.Region)
	return api.Empty{}, nil
}

func (m *Manager) serviceBackupDeauth(ctx context.Context, req api.ServiceRef, _ api.Output) (api.BackupChange, error) {
	_, svc, err := m.loadService(ctx, req)
	if err != nil {
		return api.BackupChange{}, err
	}
	defer m.lock(req.Kind, req.Name)()
	err = os.Remove(m.backupAuthPath(svc))
	if errors.Is(err, os.ErrNotExist) {
		return api.BackupChange{}, nil
	}
	if err != nil {
		return api.BackupChange{}, api.Errorf(api.CodeInternal, "Backup credentials not removed: %v", err)
	}
	m.log.Info("service backup credentials removed", "kind", svc.Kind, "name", svc.Name)
	return api.BackupChange{Changed: true}, nil
}

// bucketRE is a valid S3 bucket name (the common rules: 3 to 63 lower-case
// letters, digits, dots and hyphens, starting and ending with a letter or
// digit).
var bucketRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`) })

// parseBucket reads BUCKET, BUCKET/PREFIX or s3://BUCKET[/PREFIX].
func parseBucket(s string) (bucket, prefix string, err error) {
	s = strings.TrimPrefix(s, "s3://")
	bucket, prefix, _ = strings.Cut(s, "/")
	prefix = strings.Trim(prefix, "/")
	if !bucketRE().MatchString(bucket) || strings.Contains(bucket, "..") {
		return "", "", fmt.Errorf("%q is not a valid bucket name (3 to 63 lower-case letters, digits, dots and hyphens)", bucket)
	}
	if prefix != "" && (path.Clean(prefix) != prefix || strings.HasPrefix(prefix, ".")) {
		return "", "", fmt.Errorf("%q is not a valid prefix in the bucket", prefix)
	}
	return bucket, prefix, nil
}

// isLocalDir says whether a backup target argument is a directory (an
// absolute path) rather than a bucket.
func isLocalDir(where string) bool { return strings.HasPrefix(where, "/") }

// backupTargetFor is the target a backup argument names: an absolute
// directory, or a bucket of the service's S3 storage. useIAM takes the
// credentials from the host's IAM role instead of backup-auth's.
func (m *Manager) backupTargetFor(ctx context.Context, svc store.Service, where string, useIAM bool) (backupTarget, error) {
	if where == "" || isLocalDir(where) {
		dir, err := checkBackupDir(where)
		if err != nil {
			return nil, err
		}
		return localDir{dir}, nil
	}
	bucket, prefix, err := parseBucket(where)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "Backup target %s: give an absolute path for a directory, or a bucket (backup-auth sets its credentials): %v", where, err)
	}
	a, ok, err := m.backupAuth(svc)
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "Backup credentials unreadable: %v", err)
	}
	if !ok && !useIAM {
		return nil, api.Errorf(api.CodeInvalid, "%s service %s has no backup credentials: run %s:backup-auth to back up to bucket %s, or give an absolute path for a directory", titleKind(svc.Kind), svc.Name, svc.Kind, bucket)
	}
	return newS3Target(ctx, a, useIAM, bucket, prefix)
}

// s3Target keeps backups as objects of a bucket, under a prefix.
type s3Target struct {
	ctx            context.Context
	client         *minio.Client
	bucket, prefix string
}

var _ backupTarget = (*s3Target)(nil)

func newS3Target(ctx context.Context, a s3Auth, useIAM bool, bucket, prefix string) (*s3Target, error) {
	host, secure := "s3.amazonaws.com", true
	if a.EndpointURL != "" {
		var err error
		if host, secure, err = parseEndpoint(a.EndpointURL); err != nil {
			return nil, api.Errorf(api.CodeInvalid, "Endpoint URL %q: %v", a.EndpointURL, err)
		}
	}
	var creds *credentials.Credentials
	switch {
	case useIAM:
		creds = credentials.NewIAM("")
	case a.SignatureVersion == "s3v2":
		creds = credentials.NewStaticV2(a.AccessKeyID, a.SecretAccessKey, "")
	default:
		creds = credentials.NewStaticV4(a.AccessKeyID, a.SecretAccessKey, "")
	}
	region := a.Region
	if region == "" {
		region = "us-east-1"
	}
	c, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: region})
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "S3 client: %v", err)
	}
	return &s3Target{ctx: ctx, client: c, bucket: bucket, prefix: prefix}, nil
}

func (t *s3Target) String() string {
	if t.prefix == "" {
		return "s3://" + t.bucket
	}
	return "s3://" + t.bucket + "/" + t.prefix
}

func (t *s3Target) key(name string) string {
	if t.prefix == "" {
		return name
	}
	return t.prefix + "/" + name
}

// sumSuffix names the object holding a backup's checksum, in sha256sum's
// format ("HEX  NAME").
const sumSuffix = ".sha256"

func isNoSuchKey(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

// Put streams r into a multipart upload (parts of s3PartSize in memory,
// nothing on disk). An upload that fails is aborted: no object appears.
func (t *s3Target) Put(name string, r io.Reader) error {
	if err := checkBackupName(name); err != nil {
		return err
	}
	if _, err := t.client.StatObject(t.ctx, t.bucket, t.key(name), minio.StatObjectOptions{}); err == nil {
		return fmt.Errorf("%s/%s: %w", t, name, os.ErrExist)
	} else if !isNoSuchKey(err) {
		return s3Error(err)
	}
	_, err := t.client.PutObject(t.ctx, t.bucket, t.key(name), r, -1, minio.PutObjectOptions{PartSize: s3PartSize, ContentType: "application/octet-stream"})
	return s3Error(err)
}

// s3Error makes the storage's answer one line.
func s3Error(err error) error {
	if err == nil {
		return nil
	}
	if er := minio.ToErrorResponse(err); er.Code != "" {
		return fmt.Errorf("S3: %s: %s", er.Code, er.Message)
	}
	return err
}

// Verify re-reads the stored object, hashes it, and compares it with sum
// (the sha256 of what was sent); on a mismatch the object is removed.
// Then it records the sum next to the object (NAME.sha256).
func (t *s3Target) Verify(name, sum string) error {
	got, size, err := t.hash(name)
	if err != nil {
		return fmt.Errorf("verify %s/%s: %w", t, name, err)
	}
	if got != sum {
		t.Remove(name)
		return fmt.Errorf("verify %s/%s: the stored object's sha256 is %s (%d bytes), not %s as sent; it was removed", t, name, got, size, sum)
	}
	line := sum + "  " + name + "\n"
	_, err = t.client.PutObject(t.ctx, t.bucket, t.key(name)+sumSuffix, strings.NewReader(line), int64(len(line)), minio.PutObjectOptions{ContentType: "text/plain"})
	if err != nil {
		return fmt.Errorf("record the checksum of %s/%s: %w", t, name, s3Error(err))
	}
	return nil
}

// hash reads an object whole and returns its sha256.
func (t *s3Target) hash(name string) (string, int64, error) {
	rc, err := t.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", n, s3Error(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Check compares a stored backup with its recorded checksum before a
// restore reads it. The sum is "" when none was recorded.
func (t *s3Target) Check(name string) (string, error) {
	rc, err := t.client.GetObject(t.ctx, t.bucket, t.key(name)+sumSuffix, minio.GetObjectOptions{})
	if err != nil {
		return "", s3Error(err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if isNoSuchKey(err) {
		return "", nil
	}
	if err != nil {
		return "", s3Error(err)
	}
	want, _, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	got, _, err := t.hash(name)
	if err != nil {
		return "", err
	}
	if got != want {
		return "", fmt.Errorf("%s/%s is damaged: its sha256 is %s, %s was recorded at backup time", t, name, got, want)
	}
	return got, nil
}

func (t *s3Target) List() ([]backupFile, error) {
	prefix := ""
	if t.prefix != "" {
		prefix = t.prefix + "/"
	}
	var out []backupFile
	for o := range t.client.ListObjects(t.ctx, t.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, s3Error(o.Err)
		}
		name := strings.TrimPrefix(o.Key, prefix)
		if name == "" || strings.Contains(name, "/") || strings.HasSuffix(name, sumSuffix) {
			continue
		}
		out = append(out, backupFile{Name: name, Size: o.Size, ModTime: o.LastModified})
	}
	return out, nil
}

func (t *s3Target) Open(name string) (io.ReadCloser, error) {
	if err := checkBackupName(name); err != nil {
		return nil, err
	}
	if _, err := t.client.StatObject(t.ctx, t.bucket, t.key(name), minio.StatObjectOptions{}); err != nil {
		if isNoSuchKey(err) {
			return nil, fmt.Errorf("%s/%s: %w", t, name, os.ErrNotExist)
		}
		return nil, s3Error(err)
	}
	o, err := t.client.GetObject(t.ctx, t.bucket, t.key(name), minio.GetObjectOptions{})
	return o, s3Error(err)
}

// Remove removes a backup and its checksum.
func (t *s3Target) Remove(name string) error {
	if err := checkBackupName(name); err != nil {
		return err
	}
	if err := t.client.RemoveObject(t.ctx, t.bucket, t.key(name), minio.RemoveObjectOptions{}); err != nil {
		return s3Error(err)
	}
	return s3Error(t.client.RemoveObject(t.ctx, t.bucket, t.key(name)+sumSuffix, minio.RemoveObjectOptions{}))
}
