package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/app"
)

// entry is one member of a test archive.
type entry struct {
	name string
	typ  byte // tar.TypeReg when 0
	body string
	mode int64 // 0o644 for files, 0o755 for dirs when 0
	link string
	pax  map[string]string
}

func file(name, body string) entry { return entry{name: name, body: body} }
func exe(name, body string) entry  { return entry{name: name, body: body, mode: 0o755} }
func dirEntry(name string) entry   { return entry{name: name, typ: tar.TypeDir} }
func symlinkEntry(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target}
}

func makeTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if e.typ == tar.TypeXGlobalHeader {
			if err := tw.WriteHeader(&tar.Header{Typeflag: e.typ, PAXRecords: e.pax}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, PAXRecords: e.pax, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("WriteHeader(%q): %v", e.name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// node is what a path of an unpacked tree is: "file:MODE:BODY", "dir" or
// "link:TARGET". Only the user's execute bit of files is compared, since
// the umask may change the rest.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link:" + target
		case info.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			x := "-"
			if info.Mode()&0o100 != 0 {
				x = "x"
			}
			out[rel] = "file:" + x + ":" + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalTrees(t *testing.T, got, want map[string]string) {
	t.Helper()
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		if got[k] != want[k] {
			t.Errorf("%s: got %q, want %q", k, got[k], want[k])
		}
	}
}

func TestExtractArchive(t *testing.T) {
	app := []entry{
		file("Dockerfile", "FROM scratch\n"),
		dirEntry("bin/"),
		exe("bin/run", "#!/bin/sh\n"),
		file("bin/data", "data"),
		symlinkEntry("run", "bin/run"),
		symlinkEntry("dangling", "/nonexistent/target"),
	}
	appTree := map[string]string{
		"Dockerfile": "file:-:FROM scratch\n",
		"bin":        "dir",
		"bin/run":    "file:x:#!/bin/sh\n",
		"bin/data":   "file:-:data",
		"run":        "link:bin/run",
		"dangling":   "link:/nonexistent/target",
	}
	prefixed := func(prefix string, es []entry) []entry {
		var out []entry
		for _, e := range es {
			e.name = prefix + e.name
			out = append(out, e)
		}
		return out
	}
	tests := []struct {
		name    string
		archive func(t *testing.T) []byte
		want    map[string]string
	}{
		{"plain tar", func(t *testing.T) []byte { return makeTar(t, app...) }, appTree},
		{"gzipped tar", func(t *testing.T) []byte { return gzipped(t, makeTar(t, app...)) }, appTree},
		{"./ prefixed names", func(t *testing.T) []byte {
			return makeTar(t, append([]entry{dirEntry("./")}, prefixed("./", app)...)...)
		}, appTree},
		{"single top-level dir stripped (GitHub style)", func(t *testing.T) []byte {
			return gzipped(t, makeTar(t, append([]entry{
				{name: "pax_global_header", typ: tar.TypeXGlobalHeader, pax: map[string]string{"comment": "0123abcd"}},
				dirEntry("repo-main/"),
			}, prefixed("repo-main/", app)...)...))
		}, appTree},
		{"single top-level dir without its own entry stripped", func(t *testing.T) []byte {
			return makeTar(t, prefixed("./top/", app)...)
		}, appTree},
		{"only one level is stripped", func(t *testing.T) []byte {
			return makeTar(t, file("a/b/c", "x"), file("a/b/d", "y"))
		}, map[string]string{"b": "dir", "b/c": "file:-:x", "b/d": "file:-:y"}},
		{"two top-level dirs kept", func(t *testing.T) []byte {
			return makeTar(t, file("a/x", "1"), file("b/y", "2"))
		}, map[string]string{"a": "dir", "a/x": "file:-:1", "b": "dir", "b/y": "file:-:2"}},
		{"a top-level dir and a file kept", func(t *testing.T) []byte {
			return makeTar(t, file("a/x", "1"), file("Procfile", "web: x"))
		}, map[string]string{"a": "dir", "a/x": "file:-:1", "Procfile": "file:-:web: x"}},
		{"a single file kept", func(t *testing.T) []byte {
			return makeTar(t, file("Dockerfile", "FROM x"))
		}, map[string]string{"Dockerfile": "file:-:FROM x"}},
		{"a single symlink to a dir kept", func(t *testing.T) []byte {
			return makeTar(t, symlinkEntry("l", "/"))
		}, map[string]string{"l": "link:/"}},
		{"macOS resource forks skipped", func(t *testing.T) []byte {
			return makeTar(t, file("._Dockerfile", "junk"), file("Dockerfile", "FROM x"), file("a/._b", "junk"), file("a/b", "b"))
		}, map[string]string{"Dockerfile": "file:-:FROM x", "a": "dir", "a/b": "file:-:b"}},
		{"a later entry replaces an earlier file", func(t *testing.T) []byte {
			return makeTar(t, file("f", "first and longer"), file("f", "second"), file("g", ""))
		}, map[string]string{"f": "file:-:second", "g": "file:-:"}},
		{"a link to a dir inside the tree can be written through", func(t *testing.T) []byte {
			return makeTar(t, dirEntry("real/"), symlinkEntry("alias", "real"), file("alias/f", "x"))
		}, map[string]string{"real": "dir", "real/f": "file:-:x", "alias": "link:real"}},
		{"setuid and sticky bits dropped, exec kept", func(t *testing.T) []byte {
			return makeTar(t, entry{name: "s", body: "s", mode: 0o4755}, file("t", "t"))
		}, map[string]string{"s": "file:x:s", "t": "file:-:t"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			if err := ExtractArchive(bytes.NewReader(tc.archive(t)), dir); err != nil {
				t.Fatalf("ExtractArchive: %v", err)
			}
			equalTrees(t, tree(t, dir), tc.want)
			if info, err := os.Lstat(filepath.Join(dir, "s")); err == nil && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
				t.Errorf("s has mode %v", info.Mode())
			}
		})
	}
}

func TestExtractArchiveRefused(t *testing.T) {
	// Refused archives must write nothing outside the target dir. The target
	// is parent/src; parent also holds outside/, where links point.
	tests := []struct {
		name    string
		archive func(t *testing.T, outside string) []byte
		want    []string // parts of the error
		invalid bool     // the error has CodeInvalid
	}{
		{"parent dir", func(t *testing.T, _ string) []byte {
			return makeTar(t, file("ok", "x"), file("../x", "evil"))
		}, []string{"outside its root", `"../x"`}, true},
		{"dot dot", func(t *testing.T, _ string) []byte {
			return makeTar(t, dirEntry(".."))
		}, []string{"outside its root"}, true},
		{"./ then parent", func(t *testing.T, _ string) []byte {
			return makeTar(t, file("./../x", "evil"))
		}, []string{"outside its root"}, true},
		{"absolute /etc", func(t *testing.T, _ string) []byte {
			return makeTar(t, file("/etc/x", "evil"))
		}, []string{"outside its root", `"/etc/x"`}, true},
		{"absolute into the parent", func(t *testing.T, outside string) []byte {
			return makeTar(t, file(filepath.ToSlash(filepath.Join(outside, "x")), "evil"))
		}, []string{"outside its root"}, true},
		{"a/../../x", func(t *testing.T, _ string) []byte {
			return makeTar(t, file("a/../../x", "evil"))
		}, []string{"outside its root", `"a/../../x"`}, true},
		{"hidden parent in a gzip", func(t *testing.T, _ string) []byte {
			return gzipped(t, makeTar(t, dirEntry("a/"), file("a/b/../../../x", "evil")))
		}, []string{"outside its root"}, true},
		{"file through an absolute symlink", func(t *testing.T, outside string) []byte {
			return makeTar(t, symlinkEntry("link", outside), file("link/evil", "evil"))
		}, []string{"link/evil"}, true},
		{"dir through an absolute symlink", func(t *testing.T, outside string) []byte {
			return makeTar(t, symlinkEntry("link", outside), dirEntry("link/sub/"), file("link/sub/evil", "evil"))
		}, []string{"link/sub"}, true},
		{"file through a relative symlink", func(t *testing.T, _ string) []byte {
			return makeTar(t, symlinkEntry("up", "../outside"), file("up/evil", "evil"))
		}, []string{"up/evil"}, true},
		{"file through a chain of symlinks", func(t *testing.T, _ string) []byte {
			return makeTar(t, dirEntry("d/"), symlinkEntry("d/up", ".."), symlinkEntry("d/up2", "up/.."), file("d/up2/outside/evil", "evil"))
		}, []string{"evil"}, true},
		{"file replacing a symlink that points outside", func(t *testing.T, outside string) []byte {
			return makeTar(t, symlinkEntry("f", filepath.Join(outside, "evil")), file("f", "evil"))
		}, []string{"f"}, true},
		{"symlink loop", func(t *testing.T, _ string) []byte {
			return makeTar(t, symlinkEntry("loop", "loop"), file("loop/x", "x"))
		}, []string{"loop/x", "symlink"}, true},
		{"file where a dir is needed", func(t *testing.T, _ string) []byte {
			return makeTar(t, file("a", "x"), file("a/b", "y"))
		}, []string{"a/b", "clashes"}, true},
		{"file over a dir", func(t *testing.T, _ string) []byte {
			return makeTar(t, dirEntry("d/"), file("d", "y"))
		}, []string{`"d"`, "clashes"}, true},
		{"symlink given twice", func(t *testing.T, _ string) []byte {
			return makeTar(t, symlinkEntry("s", "a"), symlinkEntry("s", "b"))
		}, []string{`"s"`, "clashes"}, true},
		{"hard link", func(t *testing.T, _ string) []byte {
			return makeTar(t, file("a", "x"), entry{name: "b", typ: tar.TypeLink, link: "a"})
		}, []string{"kind", "hard link", "b"}, true},
		{"hard link to a file outside", func(t *testing.T, outside string) []byte {
			return makeTar(t, entry{name: "b", typ: tar.TypeLink, link: filepath.Join(outside, "secret")})
		}, []string{"kind", "hard link", "b"}, true},
		{"char device", func(t *testing.T, _ string) []byte {
			return makeTar(t, entry{name: "null", typ: tar.TypeChar})
		}, []string{"character device", "null"}, true},
		{"block device", func(t *testing.T, _ string) []byte {
			return makeTar(t, entry{name: "sda", typ: tar.TypeBlock})
		}, []string{"block device", "sda"}, true},
		{"fifo", func(t *testing.T, _ string) []byte {
			return makeTar(t, entry{name: "fifo", typ: tar.TypeFifo})
		}, []string{"FIFO", "fifo"}, true},
		{"empty tar", func(t *testing.T, _ string) []byte {
			return makeTar(t)
		}, []string{"empty"}, true},
		{"empty gzipped tar", func(t *testing.T, _ string) []byte {
			return gzipped(t, makeTar(t))
		}, []string{"empty"}, true},
		{"only the root dir", func(t *testing.T, _ string) []byte {
			return makeTar(t, dirEntry("./"))
		}, []string{"empty"}, true},
		{"only a pax global header (an empty git archive)", func(t *testing.T, _ string) []byte {
			return makeTar(t, entry{name: "pax_global_header", typ: tar.TypeXGlobalHeader, pax: map[string]string{"comment": "abc"}})
		}, []string{"empty"}, true},
		{"no bytes at all", func(t *testing.T, _ string) []byte {
			return nil
		}, []string{"empty"}, true},
		{"short garbage", func(t *testing.T, _ string) []byte {
			return []byte("this is not a tar file\n")
		}, []string{"not a valid tar"}, true},
		{"long garbage", func(t *testing.T, _ string) []byte {
			return bytes.Repeat([]byte("garbage\n"), 300)
		}, []string{"not a valid tar"}, true},
		{"zip file", func(t *testing.T, _ string) []byte {
			return append([]byte("PK\x03\x04"), bytes.Repeat([]byte{0}, 1020)...)
		}, []string{"not a valid tar"}, true},
		{"gzip magic then garbage", func(t *testing.T, _ string) []byte {
			return []byte("\x1f\x8bthis is not gzip")
		}, []string{"gzip"}, true},
		{"gzipped garbage", func(t *testing.T, _ string) []byte {
			return gzipped(t, bytes.Repeat([]byte("garbage\n"), 300))
		}, []string{"not a valid tar"}, true},
		{"truncated in a file body", func(t *testing.T, _ string) []byte {
			b := makeTar(t, file("a", "x"), file("big", strings.Repeat("y", 5000)))
			return b[:512*3+1000]
		}, []string{"truncated", "big"}, true},
		{"truncated in a header", func(t *testing.T, _ string) []byte {
			b := makeTar(t, file("a", "x"), file("b", "y"))
			return b[:512*2+100]
		}, []string{"not a valid tar"}, true},
		{"truncated gzip", func(t *testing.T, _ string) []byte {
			b := gzipped(t, makeTar(t, file("a", strings.Repeat("x", 100000))))
			return b[:len(b)/2]
		}, []string{"a"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			outside := filepath.Join(parent, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(parent, "src")
			err := ExtractArchive(bytes.NewReader(tc.archive(t, outside)), dir)
			if err == nil {
				t.Fatalf("ExtractArchive accepted the archive; unpacked %v", tree(t, dir))
			}
			t.Logf("error: %v", err)
			if tc.invalid {
				wantInvalid(t, err, tc.want...)
			} else {
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
			}
			// Nothing was written outside src.
			ents, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Name() != "outside" {
					t.Errorf("%s is left next to the target dir (a refused archive leaves nothing)", e.Name())
				}
			}
			if got := tree(t, outside); len(got) != 0 {
				t.Errorf("written outside the target dir: %v", got)
			}
		})
	}
}

func TestTarDirRoundTrip(t *testing.T) {
	src := t.TempDir()
	write := func(name, body string, mode fs.FileMode) {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // despite the umask
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\nCOPY . /app\n", 0o644)
	write("bin/start", "#!/bin/sh\nexec ./app\n", 0o755)
	write("bin/ro", "read only", 0o444)
	write("deep/er/still/file.txt", strings.Repeat("z", 70000), 0o600)
	write("empty", "", 0o644)
	if err := os.MkdirAll(filepath.Join(src, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"start": "bin/start", "deep/up": "../bin", "abs": "/etc/passwd", "dangling": "missing"} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}

	var buf bytes.Buffer
	if err := TarDir(src, &buf); err != nil {
		t.Fatalf("TarDir: %v", err)
	}
	// The headers are relative, dirs end with "/", owners are anonymous.
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(h.Name, "/") || strings.HasPrefix(h.Name, "./") || strings.Contains(h.Name, "..") || h.Name == "" {
			t.Errorf("header name %q", h.Name)
		}
		if (h.Typeflag == tar.TypeDir) != strings.HasSuffix(h.Name, "/") {
			t.Errorf("header %q has type %c", h.Name, h.Typeflag)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("header %q has owner %d:%d %q:%q", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if h.Name == "bin/start" && h.Mode&0o777 != 0o755 {
			t.Errorf("bin/start has mode %o in the tar", h.Mode)
		}
		if h.Name == "bin/ro" && h.Mode&0o777 != 0o444 {
			t.Errorf("bin/ro has mode %o in the tar", h.Mode)
		}
	}

	dst := filepath.Join(t.TempDir(), "dst")
	if err := ExtractArchive(bytes.NewReader(buf.Bytes()), dst); err != nil {
		t.Fatalf("ExtractArchive(TarDir(...)): %v", err)
	}
	equalTrees(t, tree(t, dst), tree(t, src))
	for _, name := range []string{"bin/start", "bin/ro", "Dockerfile"} {
		a, err1 := os.Stat(filepath.Join(src, name))
		b, err2 := os.Stat(filepath.Join(dst, name))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		// Extraction adds the owner's rw bits (so it can write the file);
		// the other bits survive up to the umask.
		if a.Mode().Perm()&0o111 != b.Mode().Perm()&0o111 {
			t.Errorf("%s: mode %v after the round trip, was %v", name, b.Mode(), a.Mode())
		}
	}
}

func TestTarDirMissing(t *testing.T) {
	if err := TarDir(filepath.Join(t.TempDir(), "missing"), io.Discard); err == nil {
		t.Error("TarDir of a missing dir succeeded")
	}
}

func TestStripSingleTopDir(t *testing.T) {
	tests := []struct {
		name  string
		setup map[string]string // path -> body; a path ending in "/" is a dir
		want  map[string]string
	}{
		{"single dir stripped", map[string]string{"top/a": "1", "top/b/c": "2"},
			map[string]string{"a": "file:-:1", "b": "dir", "b/c": "file:-:2"}},
		{"empty single dir stripped", map[string]string{"top/": ""}, map[string]string{}},
		{"single file kept", map[string]string{"f": "1"}, map[string]string{"f": "file:-:1"}},
		{"two dirs kept", map[string]string{"a/": "", "b/": ""}, map[string]string{"a": "dir", "b": "dir"}},
		{"empty dir kept", map[string]string{}, map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "src")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for p, body := range tc.setup {
				full := filepath.Join(dir, p)
				if strings.HasSuffix(p, "/") {
					if err := os.MkdirAll(full, 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := stripSingleTopDir(dir); err != nil {
				t.Fatal(err)
			}
			equalTrees(t, tree(t, dir), tc.want)
			if _, err := os.Stat(dir + ".strip"); err == nil {
				t.Error("the temporary dir was left behind")
			}
		})
	}
	t.Run("single symlink to a dir kept", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "src")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(t.TempDir(), filepath.Join(dir, "l")); err != nil {
			t.Fatal(err)
		}
		if err := stripSingleTopDir(dir); err != nil {
			t.Fatal(err)
		}
		if info, err := os.Lstat(filepath.Join(dir, "l")); err != nil || info.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("the symlink was not kept: %v %v", info, err)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		if err := stripSingleTopDir(filepath.Join(t.TempDir(), "missing")); err == nil {
			t.Error("no error for a missing dir")
		}
	})
}

func TestReadSourceFile(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "src")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(parent, "secret")
	for p, body := range map[string]string{secret: "secret", filepath.Join(dir, "Procfile"): "web: x\n", filepath.Join(dir, "sub", "f"): "sub", filepath.Join(dir, "empty"): ""} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"abs": secret, "rel": "../secret", "sub/up": "../../secret", "inside": "sub/f", "dangling": "nope", "dirlink": parent} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		dir, name string
		want      string // "" with wantNil
		wantNil   bool
		wantErr   bool
	}{
		{dir, "Procfile", "web: x\n", false, false},
		{dir, "sub/f", "sub", false, false},
		{dir, "inside", "sub", false, false},
		{dir, "empty", "", false, false},
		{dir, "missing", "", true, false},
		{dir, "sub/missing", "", true, false},
		{dir, "dangling", "", true, false},
		{"", "Procfile", "", true, false},
		{dir, "abs", "", false, true},
		{dir, "rel", "", false, true},
		{dir, "sub/up", "", false, true},
		{dir, "dirlink/secret", "", false, true},
		{dir, "../secret", "", false, true},
		{dir, secret, "", false, true},
		{dir, "sub", "", false, true}, // a directory
	}
	for _, tc := range tests {
		b, err := ReadSourceFile(tc.dir, tc.name)
		switch {
		case tc.wantErr:
			if err == nil {
				t.Errorf("ReadSourceFile(%q, %q) = %q, want an error", tc.dir, tc.name, b)
			}
			if bytes.Contains(b, []byte("secret")) {
				t.Errorf("ReadSourceFile(%q, %q) read outside the dir", tc.dir, tc.name)
			}
		case err != nil:
			t.Errorf("ReadSourceFile(%q, %q): %v", tc.dir, tc.name, err)
		case tc.wantNil && b != nil:
			t.Errorf("ReadSourceFile(%q, %q) = %q, want nil", tc.dir, tc.name, b)
		case !tc.wantNil && (b == nil || string(b) != tc.want):
			t.Errorf("ReadSourceFile(%q, %q) = %q (nil %v), want %q", tc.dir, tc.name, b, b == nil, tc.want)
		}
	}
}

// TestExtractTreeKeepsTheTopDir: a git tree is unpacked exactly; only
// archives lose a single top-level directory.
func TestExtractTreeKeepsTheTopDir(t *testing.T) {
	b := makeTar(t, dirEntry("app/"), file("app/main.go", "package main"))
	dir := filepath.Join(t.TempDir(), "src")
	if err := ExtractTree(bytes.NewReader(b), dir); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir); got["app/main.go"] == "" {
		t.Errorf("ExtractTree stripped the tree's only directory: %v", got)
	}
	dir2 := filepath.Join(t.TempDir(), "src")
	if err := ExtractArchive(bytes.NewReader(b), dir2); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, dir2); got["main.go"] == "" {
		t.Errorf("ExtractArchive kept the archive's top directory: %v", got)
	}
}

// TestExtractOnFullDisk unpacks into a 1 MB tmpfs: the error says the disk
// is full (not that the archive is bad), names where, and nothing is left.
func TestExtractOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (e2e TestDiskFullDuringDeployAndConfigSet covers this too)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	parent := filepath.Join(mnt, "releases", "2")
	dir := filepath.Join(parent, "src")
	b := makeTar(t, file("small", "x"), file("big", strings.Repeat("y", 2<<20)))
	err := ExtractArchive(bytes.NewReader(b), dir)
	if !errors.Is(err, app.ErrNoSpace) || errors.Is(err, app.ErrInvalid) {
		t.Fatalf("ExtractArchive on a full disk = %v, want a no-space error", err)
	}
	if want := "The disk is full writing the source tree in " + mnt + "; free space there"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if _, serr := os.Stat(dir); !errors.Is(serr, fs.ErrNotExist) {
		t.Errorf("the half-unpacked tree is left: %v", serr)
	}
}
