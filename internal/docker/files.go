package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/moby/moby/client"
)

// MaxImageFileSize bounds the size of one file [Client.ReadImageFiles]
// reads: the files deploys read from images (Procfile, app.json, CHECKS,
// DOKKU_SCALE) are small.
const MaxImageFileSize = 1 << 20

// maxLinkHops bounds how many symbolic links ReadImageFiles follows for one
// path.
const maxLinkHops = 8

// ReadImageFiles reads the regular files at the given absolute paths inside
// image, as `docker cp` would: from a container created (never started)
// from the image with the given labels, which is removed before it returns.
// Symbolic links are followed inside the image. Paths that do not exist, or
// name a directory or a device, are absent from the result; a file larger
// than [MaxImageFileSize] is an error. A missing image gives an error
// matching [ErrNotFound].
func (c *Client) ReadImageFiles(ctx context.Context, image string, paths []string, labels map[string]string) (map[string][]byte, error) {
	if len(paths) == 0 {
		return map[string][]byte{}, nil
	}
	// The command is never run; it is set so that images without CMD or
	// ENTRYPOINT can be created too.
	id, err := c.CreateContainer(ctx, ContainerSpec{Image: image, Cmd: []string{"/berth-read-files"}, Entrypoint: []string{}, Labels: labels})
	if err != nil {
		return nil, err
	}
	defer c.RemoveContainer(context.WithoutCancel(ctx), id, true)
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := c.readContainerFile(ctx, id, p)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if b != nil {
			out[p] = b
		}
	}
	return out, nil
}

// readContainerFile reads the regular file at p in container id, following
// symbolic links. A missing path matches ErrNotFound; a path that is not a
// regular file returns (nil, nil).
func (c *Client) readContainerFile(ctx context.Context, id, p string) ([]byte, error) {
	cur := path.Clean(p)
	for range maxLinkHops {
		res, err := c.api.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: cur})
		if err != nil {
			return nil, c.wrap(err, "read %s from container %s", cur, shortID(id))
		}
		st := res.Stat
		if st.Mode&fs.ModeSymlink != 0 {
			res.Content.Close()
			target := st.LinkTarget
			if target == "" {
				return nil, nil
			}
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(cur), target)
			}
			cur = path.Clean(target)
			continue
		}
		if !st.Mode.IsRegular() {
			res.Content.Close()
			return nil, nil
		}
		if st.Size > MaxImageFileSize {
			res.Content.Close()
			return nil, fmt.Errorf("docker: read %s from image: %d bytes, more than the %d bytes Berth reads", p, st.Size, MaxImageFileSize)
		}
		b, err := firstTarFile(res.Content)
		res.Content.Close()
		if err != nil {
			return nil, fmt.Errorf("docker: read %s from image: %w", p, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("docker: read %s from image: more than %d symbolic links", p, maxLinkHops)
}

// firstTarFile returns the content of the first regular file of a tar
// stream (at most MaxImageFileSize bytes).
func firstTarFile(r io.Reader) ([]byte, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, errors.New("the engine sent no file")
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, MaxImageFileSize+1))
		if err != nil {
			return nil, err
		}
		if len(b) > MaxImageFileSize {
			return nil, fmt.Errorf("more than %d bytes", MaxImageFileSize)
		}
		return b, nil
	}
}
