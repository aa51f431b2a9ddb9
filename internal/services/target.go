package services

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Where backups go: the backupTarget interface, the local directory, and
// the names of backup files (which file is whose, which ones expire).

// backupFile is a file of a backup target.
type backupFile struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// backupTarget is where backups are kept: a local directory, or a bucket
// of S3-compatible storage (s3.go).
type backupTarget interface {
	// Put stores r's content under name, atomically: the file appears
	// whole, or not at all when reading r or writing fails. A name that
	// exists gives an error matching os.ErrExist.
	Put(name string, r io.Reader) error
	// List returns the target's files (not the partial ones of a Put).
	List() ([]backupFile, error)
	Open(name string) (io.ReadCloser, error)
	Remove(name string) error
	// String says where the target is, for messages.
	String() string
}

// localDir keeps backups in a directory of the host.
type localDir struct{ dir string }

var _ backupTarget = localDir{}

func (d localDir) String() string { return d.dir }

// checkBackupName refuses names that are not plain file names in the
// target.
func checkBackupName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("invalid backup file name %q", name)
	}
	return nil
}

func (d localDir) Put(name string, r io.Reader) (err error) {
	if err := checkBackupName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	final := filepath.Join(d.dir, name)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("%s: %w", final, os.ErrExist)
	}
	f, err := os.CreateTemp(d.dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		os.Remove(f.Name())
	}()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// A hard link never replaces a file of that name; rename is the
	// fallback on file systems without links.
	if err := os.Link(f.Name(), final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", final, os.ErrExist)
		}
		if err := os.Rename(f.Name(), final); err != nil {
			return err
		}
	}
	return syncDir(d.dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// removePartial removes the temporary files of the service's backups
// that a crash left behind. The caller holds the service's lock, so none
// of them is being written.
func (d localDir) removePartial(kind, name string) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		base, _, ok := strings.Cut(strings.TrimPrefix(e.Name(), "."), ".tmp-")
		if !ok || !strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		if _, _, ours := parseBackupFileName(kind, name, base); ours {
			os.Remove(filepath.Join(d.dir, e.Name()))
		}
	}
}

func (d localDir) List() ([]backupFile, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, err
	}
	var out []backupFile
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, backupFile{Name: e.Name(), Size: info.Size(), ModTime: info.ModTime()})
	}
	return out, nil
}

func (d localDir) Open(name string) (io.ReadCloser, error) {
	if err := checkBackupName(name); err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(d.dir, name))
}

func (d localDir) Remove(name string) error {
	if err := checkBackupName(name); err != nil {
		return err
	}
	return os.Remove(filepath.Join(d.dir, name))
}

// backupTimeFormat is the UTC timestamp of backup file names.
const backupTimeFormat = "20060102-150405"

// backupFileName is KIND-NAME-YYYYMMDD-HHMMSS.EXT (UTC); seq > 0 adds -SEQ
// for a second backup within the same second.
func backupFileName(kind, name string, t time.Time, seq int) string {
	ts := t.UTC().Format(backupTimeFormat)
	if seq > 0 {
		ts += "-" + strconv.Itoa(seq)
	}
	return kind + "-" + name + "-" + ts + "." + dumpExt(kind)
}

var backupSuffixRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([0-9]{8}-[0-9]{6})(?:-([0-9]{1,4}))?\.([a-z]+)(?:\.age)?$`)
})

// parseBackupFileName reads the time and sequence number of a backup file
// of the service (encrypted ones end in .age too); ok is false for any
// other file. Names are unambiguous:
// the part after KIND-NAME- must be exactly a timestamp, so service "db"
// does not claim the files of service "db-2".
func parseBackupFileName(kind, name, file string) (t time.Time, seq int, ok bool) {
	rest, found := strings.CutPrefix(file, kind+"-"+name+"-")
	if !found {
		return t, 0, false
	}
	m := backupSuffixRE().FindStringSubmatch(rest)
	if m == nil || m[3] != dumpExt(kind) {
		return t, 0, false
	}
	t, err := time.ParseInLocation(backupTimeFormat, m[1], time.UTC)
	if err != nil {
		return t, 0, false
	}
	if m[2] != "" {
		seq, _ = strconv.Atoi(m[2])
	}
	return t, seq, true
}

// serviceBackupFile is a backup file of a service, with its time.
type serviceBackupFile struct {
	backupFile
	Time time.Time
	Seq  int
}

// serviceBackups lists the service's backups in t, oldest first.
func serviceBackups(t backupTarget, kind, name string) ([]serviceBackupFile, error) {
	files, err := t.List()
	if err != nil {
		return nil, err
	}
	var out []serviceBackupFile
	for _, f := range files {
		if ts, seq, ok := parseBackupFileName(kind, name, f.Name); ok {
			out = append(out, serviceBackupFile{backupFile: f, Time: ts, Seq: seq})
		}
	}
	sortBackups(out)
	return out, nil
}

func sortBackups(files []serviceBackupFile) {
	sort.Slice(files, func(i, j int) bool {
		if !files[i].Time.Equal(files[j].Time) {
			return files[i].Time.Before(files[j].Time)
		}
		return files[i].Seq < files[j].Seq
	})
}

// expiredBackups returns the backups beyond the newest keep ones (keep <= 0
// keeps all), oldest first.
func expiredBackups(files []serviceBackupFile, keep int) []serviceBackupFile {
	if keep <= 0 || len(files) <= keep {
		return nil
	}
	sorted := append([]serviceBackupFile(nil), files...)
	sortBackups(sorted)
	return sorted[:len(sorted)-keep]
}

// nextBackupName is the name of a new backup taken at t, plus suffix
// (".age" when encrypted): the first one not taken yet, encrypted or not.
func nextBackupName(kind, name string, t time.Time, existing []backupFile, suffix string) string {
	taken := map[string]bool{}
	for _, f := range existing {
		taken[strings.TrimSuffix(f.Name, ageExt)] = true
	}
	for seq := 0; ; seq++ {
		if n := backupFileName(kind, name, t, seq); !taken[n] {
			return n + suffix
		}
	}
}

// targetPath is where a backup of t is, for people: a path or a URL.
func targetPath(t backupTarget, name string) string {
	if d, ok := t.(localDir); ok {
		return filepath.Join(d.dir, name)
	}
	return t.String() + "/" + name
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
