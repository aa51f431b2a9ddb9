package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCopyTree(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "a/b"), 0o755)
	os.WriteFile(filepath.Join(src, "a/b/f"), []byte("data"), 0o640)
	os.WriteFile(filepath.Join(src, "x"), []byte("exec"), 0o755)
	os.Symlink("a/b/f", filepath.Join(src, "link"))
	if os.Geteuid() == 0 {
		os.Lchown(filepath.Join(src, "a/b/f"), 999, 998)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := CopyTree(src, dst, true); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "link")); err != nil || string(b) != "data" {
		t.Errorf("through the link: %q %v", b, err)
	}
	for name, mode := range map[string]os.FileMode{"a/b/f": 0o640, "x": 0o755} {
		fi, err := os.Stat(filepath.Join(dst, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want %v", name, fi.Mode(), err, mode)
		}
	}
	if os.Geteuid() == 0 {
		fi, _ := os.Stat(filepath.Join(dst, "a/b/f"))
		if uid, gid := owner(fi); uid != 999 || gid != 998 {
			t.Errorf("owner %d:%d, want 999:998", uid, gid)
		}
	}
}
