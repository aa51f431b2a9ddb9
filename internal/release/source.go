package release

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berthpaas/berth/internal/app"
)

// MaxSourceSize bounds the unpacked size of a source archive.
const MaxSourceSize = 2 << 30

// ExtractArchive unpacks a tar or tar.gz stream into dir (which must not
// exist yet). Entries cannot escape dir; devices and hard links are refused.
// A single top-level directory (as in GitHub's archives) is stripped.
func ExtractArchive(r io.Reader, dir string) error {
	return extract(r, dir, true, Limits{})
}

// Limits bound what an archive may unpack to (git:set --global
// archive-max-files and archive-max-size); zero is no bound beyond
// MaxSourceSize.
type Limits struct {
	Files int
	Bytes int64
}

// ExtractArchiveLimited is ExtractArchive within limits.
func ExtractArchiveLimited(r io.Reader, dir string, l Limits) error {
	return extract(r, dir, true, l)
}

// ExtractTree unpacks a git tree (the tar of `git archive`) like
// ExtractArchive, but exactly as it is: a single top-level directory stays.
func ExtractTree(r io.Reader, dir string) error { return extract(r, dir, false, Limits{}) }

// extract unpacks; strip says whether a single top-level directory is
// stripped (not for git trees, which are exact). On failure dir is removed:
// no half-unpacked tree is left (a full disk gets its space back at once).
func extract(r io.Reader, dir string, strip bool, l Limits) (err error) {
	maxBytes := int64(MaxSourceSize)
	if l.Bytes > 0 && l.Bytes < maxBytes {
		maxBytes = l.Bytes
	}
	where := existingParent(dir) // on the full disk, for the message
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
			os.RemoveAll(dir + ".strip")
			err = app.NoSpace(err, "the source tree", where, "deploy again")
		}
	}()
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	var src io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return app.Invalidf("The archive is not a valid gzip stream: %v", err)
		}
		defer gz.Close()
		src = gz
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(src)
	var total int64
	entries := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return app.Invalidf("The archive is not a valid tar (or tar.gz) stream: %v", err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader || h.Typeflag == tar.TypeXHeader {
			continue // git archive's pax header: metadata, not an entry
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." || name == "" {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return app.Invalidf("The archive has an entry outside its root: %q", h.Name)
		}
		if strings.HasPrefix(path.Base(name), "._") && h.Typeflag == tar.TypeReg {
			continue // macOS resource forks
		}
		entries++
		if l.Files > 0 && entries > l.Files {
			return app.Invalidf("The archive has more than %d entries (git:set --global archive-max-files)", l.Files)
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return unpackError(root, name, err)
			}
		}
		mode := fs.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return unpackError(root, name, err)
			}
		case tar.TypeReg:
			total += h.Size
			if total > maxBytes {
				return app.Invalidf("The archive unpacks to more than %d bytes (git:set --global archive-max-size)", maxBytes)
			}
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o600)
			if err != nil {
				return unpackError(root, name, err)
			}
			rerr := &readErr{r: tr}
			_, err = io.Copy(f, rerr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil && rerr.err == nil {
				return fmt.Errorf("unpack %s: %w", name, err) // writing failed
			}
			if err != nil {
				return app.Invalidf("The archive is truncated or unreadable at %s: %v", name, err)
			}
		case tar.TypeSymlink:
			if err := root.Symlink(h.Linkname, name); err != nil {
				return unpackError(root, name, err)
			}
		default:
			return app.Invalidf("The archive has an entry of a kind Berth does not unpack (%s): %s", tarKind(h.Typeflag), h.Name)
		}
	}
	if entries == 0 {
		return app.Invalidf("The archive is empty")
	}
	if !strip {
		return nil
	}
	return stripSingleTopDir(dir) // GitHub's archives have a top-level dir
}

// existingParent is the nearest directory above dir that exists: what a
// message about dir's disk names (dir and the new ones above it go when
// a deploy fails).
func existingParent(dir string) string {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || p == filepath.Dir(p) {
			return p
		}
	}
}

// readErr remembers the error of reading r other than io.EOF, to tell a
// bad archive from a failure to write what it holds.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// tarKind names a kind of tar entry for error messages.
func tarKind(t byte) string {
	switch t {
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "FIFO"
	case tar.TypeGNUSparse:
		return "sparse file"
	}
	return fmt.Sprintf("type %q", t)
}

// unpackError describes a failure to write entry name. Failures caused by
// the archive itself are reported as such: a symlink of the archive on the
// entry's path that os.Root refuses to follow (it leads out of the tree, or
// loops), or an entry that clashes with an earlier one (a file where a
// directory is needed, a name given twice to a link).
func unpackError(root *os.Root, name string, err error) error {
	prefix := ""
	for part := range strings.SplitSeq(name, "/") {
		prefix = path.Join(prefix, part)
		fi, lerr := root.Lstat(prefix)
		if lerr != nil {
			break
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if prefix == name && errors.Is(err, fs.ErrExist) {
				break // a second link of the same name
			}
			return app.Invalidf("The archive's entry %q goes through its symlink %q and cannot be unpacked (Berth does not follow links out of the archive): %v", name, prefix, err)
		}
	}
	if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ELOOP) {
		return app.Invalidf("The archive's entry %q clashes with an earlier entry: %v", name, err)
	}
	return fmt.Errorf("unpack %s: %w", name, err)
}

// stripSingleTopDir moves the contents of dir/X up when X is dir's only entry
// and a directory.
func stripSingleTopDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 || !ents[0].IsDir() {
		return err
	}
	top := filepath.Join(dir, ents[0].Name())
	tmp := dir + ".strip"
	if err := os.Rename(top, tmp); err != nil {
		return err
	}
	if err := os.Remove(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// TarDir streams dir as a tar archive (a Docker build context) into w.
func TarDir(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// ReadSourceFile reads name inside dir without following links out of it.
// A missing file returns (nil, nil).
func ReadSourceFile(dir, name string) ([]byte, error) {
	if dir == "" {
		return nil, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b, err := root.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
