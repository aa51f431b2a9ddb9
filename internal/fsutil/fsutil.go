// Package fsutil copies directory trees.
package fsutil

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// CopyTree copies the tree at from to to (which must not exist or be an
// empty directory), keeping modes and symlinks and skipping sockets and
// pipes. With owners, files keep their uid and gid too (service data
// belongs to the container's user). Directories are at least 0700 so the
// copy can be filled.
func CopyTree(from, to string, owners bool) error {
	return filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		switch {
		case info.IsDir():
			if err := os.MkdirAll(dst, info.Mode().Perm()|0o700); err != nil {
				return err
			}
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(p, dst, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil
		}
		if !owners {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			return os.Lchown(dst, int(st.Uid), int(st.Gid))
		}
		return nil
	})
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(to, mode)
}
