package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const fuzzSecret = "TOPSECRET-outside-the-tree"

// specTar builds an archive from a small text: one entry a line, "KIND
// NAME [LINK]" with KIND f (file, its body is its name), d, l (symlink), h
// (hard link), c (character device), x (a pax header with a huge record).
func specTar(spec string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for line := range strings.SplitSeq(spec, "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		name, link, _ := strings.Cut(rest, " ")
		h := &tar.Header{Name: name, Linkname: link, Mode: 0o644, Format: tar.FormatPAX}
		switch kind {
		case "f":
			h.Typeflag, h.Size, h.Linkname = tar.TypeReg, int64(len(name)), ""
		case "d":
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case "l":
			h.Typeflag = tar.TypeSymlink
		case "h":
			h.Typeflag = tar.TypeLink
		case "c":
			h.Typeflag = tar.TypeChar
		case "x":
			h.Typeflag, h.PAXRecords = tar.TypeReg, map[string]string{"comment": strings.Repeat("x", 1<<16)}
		default:
			continue
		}
		if tw.WriteHeader(h) != nil {
			continue
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(name))
		}
	}
	tw.Close()
	return buf.Bytes()
}

var fuzzSpecs = []string{
	"f Procfile\nd app/\nf app/main.go",
	"d top/\nf top/a\nf top/b",
	"f ../x", "f /etc/x", "f a/../../x", "f ./../x", "d ..", "f ./", "f .",
	"l link ../outside\nf link/secret",
	"l link ../outside/secret\nf Procfile",
	"l s /etc\nd s/x/",
	"l a .\nl b a/a\nf b/../../x",
	"l loop loop\nf loop/x",
	"f a\nh b a", "h b ../outside/secret", "c dev",
	"x big", "f a\nf a/b", "d d/\nf d", "l s a\nl s b",
	"l top ../outside", "d top/\nl top/up ..\nf top/up/up/outside/evil",
	"f \x00", "f a\x00b", "f ._x", "f " + strings.Repeat("a", 300),
}

// FuzzExtractSpec unpacks archives made of arbitrary entries (links, `..`,
// absolute paths, devices, clashes, huge pax headers).
func FuzzExtractSpec(f *testing.F) {
	for _, s := range fuzzSpecs {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, spec string, strip bool) {
		checkExtract(t, specTar(spec), strip)
	})
}

// FuzzExtractArchive unpacks arbitrary bytes, seeded with the archives of
// FuzzExtractSpec, plain and gzipped.
func FuzzExtractArchive(f *testing.F) {
	for _, s := range fuzzSpecs {
		b := specTar(s)
		f.Add(b)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(b)
		zw.Close()
		f.Add(gz.Bytes())
	}
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkExtract(t, data, true)
	})
}

// checkExtract unpacks data into parent/src beside parent/outside/secret:
// nothing outside src changes, the error (if any) is one line, and an
// accepted tree has only files, dirs and links, none of which lets Berth
// read the secret (ReadSourceFile, TarDir of the build context).
func checkExtract(t *testing.T, data []byte, strip bool) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "src")
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte(fuzzSecret), 0o644); err != nil {
		t.Fatal(err)
	}
	err := extract(bytes.NewReader(data), dir, strip, Limits{})
	if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("error spans lines: %q", err)
	}
	var names []string
	for _, e := range must(os.ReadDir(parent)) {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"outside", "src"}) && !(err != nil && slices.Equal(names, []string{"outside"})) {
		t.Fatalf("the archive left %q beside the tree (err %v)", names, err)
	}
	if ents := must(os.ReadDir(outside)); len(ents) != 1 {
		t.Fatalf("the archive wrote into outside/: %v", ents)
	}
	if b := must(os.ReadFile(filepath.Join(outside, "secret"))); string(b) != fuzzSecret {
		t.Fatalf("the archive changed outside/secret: %q", b)
	}
	if err != nil {
		return
	}
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if m := d.Type(); m&^(fs.ModeDir|fs.ModeSymlink) != 0 {
			t.Fatalf("accepted %s of type %v", p, m)
		}
		rel := must(filepath.Rel(dir, p))
		if b, err := ReadSourceFile(dir, rel); err == nil && bytes.Contains(b, []byte(fuzzSecret)) {
			t.Fatalf("ReadSourceFile(%q) read the file outside the tree", rel)
		}
		return nil
	})
	if walkErr != nil {
		t.Fatal(walkErr)
	}
	var ctx bytes.Buffer
	if err := TarDir(dir, &ctx); err != nil {
		t.Fatalf("TarDir of an accepted tree: %v", err)
	}
	if bytes.Contains(ctx.Bytes(), []byte(fuzzSecret)) {
		t.Fatal("the build context carries the file outside the tree")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
