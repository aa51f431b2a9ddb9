package services

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
)

func TestParseBackupSchedule(t *testing.T) {
	for _, spec := range []string{"0 3 * * *", "*/15 * * * 1-5", "30 2 1 * *", "0 0 * * SUN", "@daily", "@hourly", "@weekly", "@monthly", "@every 2s", "@every 1h30m", "CRON_TZ=UTC 0 3 * * *", "  0 3 * * *  "} {
		if _, err := parseBackupSchedule(spec); err != nil {
			t.Errorf("parseBackupSchedule(%q): %v", spec, err)
		}
	}
	for _, spec := range []string{"", "   ", "* * *", "0 3 * * * *", "61 * * * *", "0 25 * * *", "@every 500ms", "@every x", "@sometimes", "TZ=UTC", "CRON_TZ=Nowhere/Land 0 3 * * *", "every day"} {
		if _, err := parseBackupSchedule(spec); err == nil {
			t.Errorf("parseBackupSchedule(%q) accepted", spec)
		}
	}
	// The message is one line naming the spec.
	err := scheduleError("* * *", errors.New("expected exactly 5 fields"))
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), `"* * *"`) {
		t.Errorf("scheduleError = %q", err)
	}
	// @every 2s fires every 2 seconds.
	s, _ := parseBackupSchedule("@every 2s")
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if next := s.Next(now); next.Sub(now) != 2*time.Second {
		t.Errorf("@every 2s next = %v", next.Sub(now))
	}
	d, _ := parseBackupSchedule("0 3 * * *")
	if next := d.Next(time.Date(2025, 1, 2, 3, 4, 5, 0, time.Local)); next.Day() != 3 || next.Hour() != 3 || next.Minute() != 0 {
		t.Errorf("0 3 * * * next = %v", next)
	}
}

func TestBackupFileNames(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 999, time.FixedZone("X", 3600))
	if got := backupFileName("postgres", "shop-db", at, 0); got != "postgres-shop-db-20250304-040607.dump" {
		t.Errorf("backupFileName = %q", got)
	}
	if got := backupFileName("redis", "cache", at, 2); got != "redis-cache-20250304-040607-2.rdb" {
		t.Errorf("backupFileName with seq = %q", got)
	}
	ts, seq, ok := parseBackupFileName("redis", "cache", "redis-cache-20250304-040607-2.rdb")
	if !ok || seq != 2 || !ts.Equal(time.Date(2025, 3, 4, 4, 6, 7, 0, time.UTC)) {
		t.Errorf("parse = %v %d %v", ts, seq, ok)
	}
	for _, c := range []struct {
		kind, name, file string
		ok               bool
	}{
		{"postgres", "db", "postgres-db-20250304-040607.dump", true},
		{"postgres", "db", "postgres-db-2-20250304-040607.dump", false}, // service db-2's
		{"postgres", "db-2", "postgres-db-2-20250304-040607.dump", true},
		{"postgres", "db", "postgres-db-20250304-040607-20250304-040607.dump", false},
		{"postgres", "db-20250304-040607", "postgres-db-20250304-040607-20250304-040607.dump", true},
		{"postgres", "db", "postgres-db-20250304-040607.rdb", false},
		{"redis", "db", "postgres-db-20250304-040607.dump", false},
		{"postgres", "db", "postgres-db-20251304-040607.dump", false}, // month 13
		{"postgres", "db", ".postgres-db-20250304-040607.dump.tmp-1", false},
		{"postgres", "db", "postgres-db-20250304-040607.dump.tmp", false},
	} {
		if _, _, ok := parseBackupFileName(c.kind, c.name, c.file); ok != c.ok {
			t.Errorf("parseBackupFileName(%s, %s, %s) = %v", c.kind, c.name, c.file, ok)
		}
	}
	existing := []backupFile{{Name: "redis-cache-20250304-040607.rdb"}, {Name: "redis-cache-20250304-040607-1.rdb"}}
	if got := nextBackupName("redis", "cache", at, existing, ""); got != "redis-cache-20250304-040607-2.rdb" {
		t.Errorf("nextBackupName = %q", got)
	}
	if got := nextBackupName("redis", "cache", at, nil, ""); got != "redis-cache-20250304-040607.rdb" {
		t.Errorf("nextBackupName (free) = %q", got)
	}
}

func TestExpiredBackups(t *testing.T) {
	mk := func(names ...string) []serviceBackupFile {
		var out []serviceBackupFile
		for _, n := range names {
			ts, seq, ok := parseBackupFileName("postgres", "db", n)
			if !ok {
				t.Fatalf("bad name %s", n)
			}
			out = append(out, serviceBackupFile{backupFile: backupFile{Name: n}, Time: ts, Seq: seq})
		}
		return out
	}
	files := mk("postgres-db-20250101-000003.dump", "postgres-db-20250101-000001.dump", "postgres-db-20250101-000003-1.dump", "postgres-db-20250101-000002.dump")
	names := func(fs []serviceBackupFile) string {
		var n []string
		for _, f := range fs {
			n = append(n, strings.TrimSuffix(strings.TrimPrefix(f.Name, "postgres-db-20250101-"), ".dump"))
		}
		return strings.Join(n, " ")
	}
	for _, c := range []struct {
		keep int
		want string
	}{{0, ""}, {-1, ""}, {4, ""}, {9, ""}, {3, "000001"}, {2, "000001 000002"}, {1, "000001 000002 000003"}} {
		if got := names(expiredBackups(files, c.keep)); got != c.want {
			t.Errorf("expiredBackups(keep %d) = %q, want %q", c.keep, got, c.want)
		}
	}
	if names(files) != "000003 000001 000003-1 000002" {
		t.Errorf("expiredBackups changed its input: %s", names(files))
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		r.n--
		return copy(p, "partial data"), nil
	}
	return 0, errors.New("dump failed")
}

func TestLocalDirPut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "backups")
	d := localDir{dir}
	if err := d.Put("a.dump", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, %v", st.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a.dump")); err != nil || string(b) != "hello" {
		t.Errorf("content = %q, %v", b, err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "a.dump")); st.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v", st.Mode())
	}
	// An existing name is never replaced.
	if err := d.Put("a.dump", strings.NewReader("other")); !errors.Is(err, os.ErrExist) {
		t.Errorf("Put over an existing file: %v", err)
	}
	// A failing source leaves nothing, not even a temporary file.
	if err := d.Put("b.dump", &failingReader{n: 3}); err == nil || !strings.Contains(err.Error(), "dump failed") {
		t.Errorf("Put of a failing reader: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "a.dump" {
		t.Errorf("files after a failed Put: %v", entries)
	}
	files, err := d.List()
	if err != nil || len(files) != 1 || files[0].Name != "a.dump" || files[0].Size != 5 {
		t.Errorf("List = %+v, %v", files, err)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden"} {
		if err := d.Put(bad, strings.NewReader("x")); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
		if _, err := d.Open(bad); err == nil {
			t.Errorf("Open(%q) accepted", bad)
		}
	}
	// Partial files a crash left: only the service's own go.
	for _, n := range []string{".postgres-db-20250101-000000.dump.tmp-123", ".postgres-db-2-20250101-000000.dump.tmp-9", "postgres-db-20250101-000001.dump"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	d.removePartial("postgres", "db")
	var left []string
	entries, _ = os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if got := strings.Join(left, " "); got != ".postgres-db-2-20250101-000000.dump.tmp-9 a.dump postgres-db-20250101-000001.dump" {
		t.Errorf("after removePartial: %s", got)
	}
	os.Remove(filepath.Join(dir, ".postgres-db-2-20250101-000000.dump.tmp-9"))
	os.Remove(filepath.Join(dir, "postgres-db-20250101-000001.dump"))
	rc, err := d.Open("a.dump")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Errorf("Open read %q", b)
	}
	if err := d.Remove("a.dump"); err != nil {
		t.Error(err)
	}
	if files, _ := d.List(); len(files) != 0 {
		t.Errorf("after Remove: %v", files)
	}
}

func TestRDBStream(t *testing.T) {
	rdb := append([]byte("REDIS0010"), bytes.Repeat([]byte{0xfa, 0x01}, 100)...)
	rdb = append(rdb, 0xff, 1, 2, 3, 4, 5, 6, 7, 8)
	mark := []byte(strings.Repeat("0123456789abcdef", 3)[:rdbEOFMarkLen])
	// In small writes, with the EOF mark of a diskless transfer.
	var out bytes.Buffer
	s := &rdbStream{w: &out}
	for _, chunk := range [][]byte{rdb[:3], rdb[3:50], rdb[50:], mark[:10], mark[10:]} {
		if _, err := s.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.finish(true); err != nil || !bytes.Equal(out.Bytes(), rdb) {
		t.Errorf("marked: %v, %d bytes (want %d)", err, out.Len(), len(rdb))
	}
	// Without a mark, everything passes.
	out.Reset()
	s = &rdbStream{w: &out}
	s.Write(rdb)
	if err := s.finish(false); err != nil || !bytes.Equal(out.Bytes(), rdb) {
		t.Errorf("unmarked: %v, %d bytes", err, out.Len())
	}
	// A "marked" stream whose tail is not a mark keeps it.
	out.Reset()
	s = &rdbStream{w: &out}
	s.Write(rdb)
	if err := s.finish(true); err != nil || !bytes.Equal(out.Bytes(), rdb) {
		t.Errorf("marked without a mark: %v, %d bytes", err, out.Len())
	}
	// Not an RDB.
	s = &rdbStream{w: io.Discard}
	s.Write([]byte("NOAUTH Authentication required."))
	if err := s.finish(false); err == nil {
		t.Error("non-RDB output accepted")
	}
}

func TestDataHelpers(t *testing.T) {
	err := toolError("pg_restore", 1, "pg_restore: warning: something\npg_restore: error: could not read from input file: end of file\npg_restore: error: other\n")
	if got := err.Error(); got != "pg_restore failed (exit 1): pg_restore: error: could not read from input file: end of file" {
		t.Errorf("toolError = %q", got)
	}
	if got := toolError("pg_dump", 2, "").Error(); got != "pg_dump failed (exit 2)" {
		t.Errorf("toolError without output = %q", got)
	}
	if got := toolError("x", 1, "a\nlast words\n\n").Error(); got != "x failed (exit 1): last words" {
		t.Errorf("toolError without error line = %q", got)
	}
	for ref, want := range map[string][2]string{"postgres:17": {"postgres", "17"}, "berth/postgres:15": {"berth/postgres", "15"}, "reg:5000/img:1": {"reg:5000/img", "1"}, "reg:5000/img": {"reg:5000/img", ""}, "img": {"img", ""}} {
		if r, tag := splitImage(ref); r != want[0] || tag != want[1] {
			t.Errorf("splitImage(%s) = %s, %s", ref, r, tag)
		}
	}
	if !isRDB([]byte("REDIS0011")) || isRDB([]byte("REDIS")) || isRDB([]byte("PGDMP0011")) || isRDB([]byte("REDISxxxx")) {
		t.Error("isRDB")
	}
	done := map[string]string{"aof_enabled": "1", "aof_rewrite_in_progress": "0", "aof_rewrite_scheduled": "0", "aof_last_bgrewrite_status": "ok", "aof_rewrites": "1"}
	if !aofRewritten(done) {
		t.Error("aofRewritten(done) = false")
	}
	for k, v := range map[string]string{"aof_enabled": "0", "aof_rewrite_in_progress": "1", "aof_rewrite_scheduled": "1", "aof_last_bgrewrite_status": "err", "aof_rewrites": "0"} {
		m := map[string]string{}
		for k2, v2 := range done {
			m[k2] = v2
		}
		m[k] = v
		if aofRewritten(m) {
			t.Errorf("aofRewritten with %s:%s = true", k, v)
		}
	}
	if got := describeSchedule("0 3 * * *", "/b", 0); got != "0 3 * * * to /b (keep all)" {
		t.Errorf("describeSchedule = %q", got)
	}
}

// fullTarget is a backup target whose disk fills after a few bytes.
type fullTarget struct{ localDir }

func (f fullTarget) Put(name string, r io.Reader) error {
	if _, err := io.CopyN(io.Discard, r, 4); err != nil {
		return err
	}
	return &os.PathError{Op: "write", Path: filepath.Join(f.dir, "."+name+".tmp-1"), Err: syscall.ENOSPC}
}

// TestBackupOnFullDisk: when writing the file fails, the error says why
// (the disk is full, where), not what the dump saw of the closed pipe.
func TestBackupOnFullDisk(t *testing.T) {
	tm := newTestManager(t)
	svc := tm.create(t, "postgres", "db", "postgres:17")
	sk, _, err := tm.loadService(context.Background(), api.ServiceRef{Kind: "postgres", Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = tm.writeBackup(context.Background(), sk, svc, fullTarget{localDir{dir}}, tm.now())
	if !errors.Is(err, app.ErrNoSpace) || !strings.Contains(err.Error(), "The disk is full writing postgres-db-") || !strings.Contains(err.Error(), " in "+dir+"; free space there") {
		t.Errorf("backup on a full disk: %v", err)
	}
}
