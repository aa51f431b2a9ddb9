package deploy

import (
	"context"
	"path/filepath"

	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/release"
)

// filesDirOf is where release n of app keeps the files it read.
func (d *Deployer) filesDirOf(app string, n int) string {
	return filepath.Join(d.releaseDir(app, n), "files")
}

// releaseFiles returns the files release n of app read: those it kept, or,
// for releases made before Berth kept them, those of its kept source tree.
func (d *Deployer) releaseFiles(app string, n int, procfilePath string) (release.Files, error) {
	data, origins, ok, err := release.LoadKeptFiles(d.filesDirOf(app, n))
	if err != nil {
		return release.Files{}, err
	}
	if ok {
		return release.ParseFiles(data, origins)
	}
	src := d.srcDirOf(app, n)
	if !dirExists(src) {
		return release.Files{}, nil
	}
	return release.ReadSourceFiles(src, procfilePath)
}

// kindFiles labels the short-lived containers that read files from images.
const kindFiles = "files"

// readFiles finds the release's files, says in the deploy log where each
// was found, and keeps them with the release. A redeploy uses what its
// release kept; a rollback what the release it rolls back to kept.
func (j *job) readFiles(ctx context.Context, set appSettings) (release.Files, error) {
	if j.redeploy {
		return j.d.releaseFiles(j.app.Name, j.rel.Number, set.procfilePath)
	}
	var data map[string][]byte
	var origins []release.Origin
	kept := false
	l := release.Lookup{
		SrcDir: j.srcDir, Image: j.rel.Image, WorkDir: j.image.WorkingDir,
		ProcfilePath: set.procfilePath, AppJSONPath: set.appJSONPath,
		Labels: map[string]string{naming.LabelInstance: j.d.names.Instance(), naming.LabelApp: j.app.Name, naming.LabelKind: kindFiles},
	}
	if j.rollbackOf != nil {
		var err error
		if data, origins, kept, err = release.LoadKeptFiles(j.d.filesDirOf(j.app.Name, j.rollbackOf.Number)); err != nil {
			return release.Files{}, err
		}
		// A release made before Berth kept its files read only its source.
		l.Image = ""
	}
	if kept {
		j.info("Using the files release %d read", j.rollbackOf.Number)
	} else {
		var err error
		if data, origins, err = release.LookupFiles(ctx, j.eng, l); err != nil {
			return release.Files{}, err
		}
		j.info("Reading %s", release.AndList(release.FileNames))
	}
	for _, o := range origins {
		j.detail("%s", o)
	}
	f, err := release.ParseFiles(data, origins)
	if err != nil {
		return f, err
	}
	if f.ChecksReplaceAppJSON() {
		j.detail("CHECKS replaces app.json's healthchecks for web, as in Dokku (CHECKS is deprecated: move its checks to app.json)")
	}
	return f, release.KeepFiles(j.d.filesDirOf(j.app.Name, j.rel.Number), data, origins)
}
