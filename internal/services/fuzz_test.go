package services

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzServiceAndBackupNames: an accepted service name is one plain path
// component of letters, digits, - and _ (its data dir and its host name
// dokku-KIND-NAME stay where they belong); an accepted backup file name
// stays a direct child of the backup directory; a backup file name Berth
// makes for an accepted service is accepted and read back.
func FuzzServiceAndBackupNames(f *testing.F) {
	for _, s := range []string{
		"db", "my_db-2", "..", "../x", "a/b", "a\x00", ".hidden", "a b", "UP", "\u0430db", "db\n",
		strings.Repeat("a", 48), strings.Repeat("a", 49), "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		const dir = "/var/lib/berth/services/postgres"
		if checkServiceName("postgres", name) == nil {
			if strings.Contains(name, "..") || strings.ContainsAny(name, "/\\.\x00") || len(name) > 48 {
				t.Fatalf("service name %q accepted", name)
			}
			for _, r := range name {
				if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
					t.Fatalf("service name %q accepted with %q", name, r)
				}
			}
			if p := filepath.Join(dir, name); filepath.Dir(p) != dir {
				t.Fatalf("service %q leaves %s: %s", name, dir, p)
			}
			now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
			file := backupFileName("postgres", name, now, 2)
			if err := checkBackupName(file); err != nil {
				t.Fatalf("backup name %q of service %q refused: %v", file, name, err)
			}
			if tm, seq, ok := parseBackupFileName("postgres", name, file); !ok || !tm.Equal(now) || seq != 2 {
				t.Fatalf("parseBackupFileName(%q) = %v %d %v", file, tm, seq, ok)
			}
		}
		if checkBackupName(name) == nil {
			if p := filepath.Join(dir, name); filepath.Dir(p) != dir || filepath.Base(p) != name || strings.HasPrefix(name, ".") {
				t.Fatalf("backup file name %q accepted: %s", name, p)
			}
		}
	})
}
