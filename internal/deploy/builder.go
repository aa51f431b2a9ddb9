package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// BuilderDockerfile is the one builder Berth has: `docker build` of the
// source's Dockerfile (Dokku's "dockerfile" builder).
const BuilderDockerfile = "dockerfile"

func init() {
	// builder:set APP selected: Dokku picks herokuish, pack, nixpacks...;
	// Berth builds from a Dockerfile only, so only that choice is taken.
	app.Register(app.Setting{Namespace: "builder", Key: "selected", Scope: app.ScopeBoth, Validate: func(v string) error {
		if v != BuilderDockerfile {
			return app.Invalidf("Invalid builder %q: Berth builds from a Dockerfile only (builder:set APP selected dockerfile); herokuish, pack, nixpacks, railpack and lambda are not supported", v)
		}
		return nil
	}})
	// builder:set APP build-dir: the source's subdirectory that is built
	// (its Dockerfile, Procfile and app.json; the build context).
	app.Register(app.Setting{Namespace: "builder", Key: "build-dir", Scope: app.ScopeBoth, Validate: validatePath})
}

// applyBuildDir narrows the job's source tree to builder:set build-dir,
// when one is set: the build, Procfile, app.json and the rest are read
// from there. The subdirectory must exist in the source, without leaving
// it through a link.
func (j *job) applyBuildDir(ctx context.Context) error {
	if j.srcDir == "" {
		return nil
	}
	var dir string
	err := j.d.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		dir, err = setting(tx, j.app, "builder", "build-dir")
		return err
	})
	if err != nil || dir == "" {
		return err
	}
	root, err := filepath.EvalSymlinks(j.srcDir)
	if err != nil {
		return err
	}
	sub, err := filepath.EvalSymlinks(filepath.Join(root, dir))
	if err == nil && sub != root && !strings.HasPrefix(sub, root+string(filepath.Separator)) {
		err = os.ErrNotExist
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = os.Stat(sub)
	}
	if err != nil || !fi.IsDir() {
		return app.Invalidf("The build directory %s (builder:set %s build-dir) is not a directory of the source: fix the path, or clear it with builder:set %s build-dir", dir, j.app.Name, j.app.Name)
	}
	j.info("Building from the source's %s directory (builder build-dir)", dir)
	j.srcDir = sub
	return nil
}
