package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
)

// The files of an app that shape its deploys, by the names Berth keeps
// them under.
var appFileNames = []string{appfile.ProcfileName, appfile.AppJSONName, appfile.ChecksFileName, appfile.ScaleFileName}

// Where a file was found.
const (
	inSource = "source"
	inImage  = "image"
)

// imageAppDir is where Dokku's older releases and buildpack images keep the
// app: looked at after the image's WORKDIR.
const imageAppDir = "/app"

// fileOrigin says where one of an app's files was found, or where it was
// looked for in vain. A release keeps its files' origins with them.
type fileOrigin struct {
	Name string `json:"name"`
	// Where is inSource, inImage or "" (not found).
	Where string `json:"where,omitempty"`
	// Path is where it was found: relative to the source root, or absolute
	// in the image.
	Path string `json:"path,omitempty"`
	// Source and Image are the paths looked at, in order.
	Source []string `json:"source,omitempty"`
	Image  []string `json:"image,omitempty"`
}

// String says where the file was found, for the deploy log.
func (o fileOrigin) String() string {
	switch o.Where {
	case inSource:
		return fmt.Sprintf("%s: found in the source at %s", o.Name, o.Path)
	case inImage:
		return fmt.Sprintf("%s: found in the image at %s", o.Name, o.Path)
	}
	return fmt.Sprintf("%s: none (looked in %s)", o.Name, o.looked())
}

// looked lists where the file was looked for: "the source at Procfile, the
// image at /code/Procfile and /app/Procfile".
func (o fileOrigin) looked() string {
	var parts []string
	if len(o.Source) > 0 {
		parts = append(parts, "the source at "+andList(o.Source))
	}
	if len(o.Image) > 0 {
		parts = append(parts, "the image at "+andList(o.Image))
	}
	if len(parts) == 0 {
		return "nothing: no source and no image"
	}
	return strings.Join(parts, ", ")
}

func andList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// imageReader reads files from an image; the Engine is one.
type imageReader interface {
	ReadImageFiles(ctx context.Context, image string, paths []string, labels map[string]string) (map[string][]byte, error)
}

// fileLookup says where a release's files are looked for.
type fileLookup struct {
	// srcDir is the release's source tree ("" when it has none: image
	// deploys).
	srcDir string
	// image is the release's image ("" for none) and workDir its WORKDIR
	// ("" is /).
	image, workDir string
	// procfilePath and appJSONPath are ps:set procfile-path and
	// app-json:set appjson-path: relative to the source root, and to the
	// image's WORKDIR and /app.
	procfilePath, appJSONPath string
	// labels mark the container the engine creates to read the image.
	labels map[string]string
}

// relPath is the path of a file relative to the places it is looked in.
func (l fileLookup) relPath(name string) string {
	switch name {
	case appfile.ProcfileName:
		if l.procfilePath != "" {
			return l.procfilePath
		}
	case appfile.AppJSONName:
		if l.appJSONPath != "" {
			return l.appJSONPath
		}
	}
	return name
}

// lookupFiles finds each of the app's files, as Dokku does for Dockerfile
// and image deploys: at its path in the source tree first, then in the
// image under its WORKDIR, then under /app. It returns the contents of
// those found, by name, and where each was found or looked for.
func lookupFiles(ctx context.Context, r imageReader, l fileLookup) (map[string][]byte, []fileOrigin, error) {
	data := map[string][]byte{}
	origins := make([]fileOrigin, len(appFileNames))
	var want []string
	for i, name := range appFileNames {
		o := fileOrigin{Name: name}
		rel := l.relPath(name)
		if l.srcDir != "" {
			o.Source = []string{rel}
			b, err := readSourceFile(l.srcDir, rel)
			if err != nil {
				return nil, nil, err
			}
			if b != nil {
				o.Where, o.Path, data[name] = inSource, rel, b
				origins[i] = o
				continue
			}
		}
		if l.image != "" {
			wd := l.workDir
			if wd == "" {
				wd = "/"
			}
			for _, dir := range []string{wd, imageAppDir} {
				p := path.Join(dir, rel)
				if !containsString(o.Image, p) {
					o.Image = append(o.Image, p)
					if !containsString(want, p) {
						want = append(want, p)
					}
				}
			}
		}
		origins[i] = o
	}
	if len(want) == 0 {
		return data, origins, nil
	}
	got, err := r.ReadImageFiles(ctx, l.image, want, l.labels)
	if err != nil {
		return nil, nil, fmt.Errorf("read the app's files from its image: %w", err)
	}
	for i := range origins {
		o := &origins[i]
		if o.Where != "" {
			continue
		}
		for _, p := range o.Image {
			if b, ok := got[p]; ok {
				o.Where, o.Path, data[o.Name] = inImage, p, b
				break
			}
		}
	}
	return data, origins, nil
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// appFiles are the files of an app that shape its deploy, parsed.
type appFiles struct {
	procfile *appfile.Procfile
	appJSON  *appfile.AppJSON
	scale    map[string]int
	checks   *appfile.Checks
	// origins say where each file was found (nil for releases made before
	// Berth kept them).
	origins []fileOrigin
}

// origin returns where the named file was found.
func (f appFiles) origin(name string) (fileOrigin, bool) {
	for _, o := range f.origins {
		if o.Name == name {
			return o, true
		}
	}
	return fileOrigin{}, false
}

// parseAppFiles parses the files found. An error names the file, its line,
// and where it was found when that is not the source root.
func parseAppFiles(data map[string][]byte, origins []fileOrigin) (appFiles, error) {
	f := appFiles{origins: origins}
	invalid := func(name string, err error) error {
		msg := firstLine(err.Error())
		if o, ok := f.origin(name); ok && (o.Where == inImage || o.Path != name) {
			msg += fmt.Sprintf(" (in the %s at %s)", o.Where, o.Path)
		}
		return app.Invalidf("%s", msg)
	}
	if b, ok := data[appfile.ProcfileName]; ok {
		pf, err := appfile.ParseProcfile(b)
		if err != nil {
			return f, invalid(appfile.ProcfileName, err)
		}
		f.procfile = &pf
	}
	if b, ok := data[appfile.AppJSONName]; ok {
		aj, err := appfile.ParseAppJSON(b)
		if err != nil {
			return f, invalid(appfile.AppJSONName, err)
		}
		f.appJSON = &aj
	}
	if b, ok := data[appfile.ChecksFileName]; ok {
		ck, err := appfile.ParseChecks(b)
		if err != nil {
			return f, invalid(appfile.ChecksFileName, err)
		}
		f.checks = &ck
	}
	if b, ok := data[appfile.ScaleFileName]; ok {
		sc, err := appfile.ParseScale(b)
		if err != nil {
			return f, invalid(appfile.ScaleFileName, err)
		}
		f.scale = sc
	}
	return f, nil
}

// readAppFiles reads the files of a source tree only, as releases made
// before Berth kept their files were read (srcDir "" has none).
func readAppFiles(srcDir, procfilePath string) (appFiles, error) {
	data, origins, err := lookupFiles(context.Background(), nil, fileLookup{srcDir: srcDir, procfilePath: procfilePath})
	if err != nil {
		return appFiles{}, err
	}
	f, err := parseAppFiles(data, origins)
	f.origins = nil
	return f, err
}

// originsFile holds the origins of a release's kept files.
const originsFile = "origins.json"

// filesDirOf is where release n of app keeps the files it read.
func (d *Deployer) filesDirOf(app string, n int) string {
	return filepath.Join(d.releaseDir(app, n), "files")
}

// keepFiles stores the files a release read, and where it found them, in
// dir, so redeploys, scaling and reports use what the release read.
func keepFiles(dir string, data map[string][]byte, origins []fileOrigin) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, b := range data {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	b, err := json.Marshal(origins)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, originsFile), b, 0o600)
}

// loadKeptFiles reads the files kept in dir; ok is false when the release
// kept none (it was made before Berth kept them).
func loadKeptFiles(dir string) (data map[string][]byte, origins []fileOrigin, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, originsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if err := json.Unmarshal(b, &origins); err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w", filepath.Join(dir, originsFile), err)
	}
	data = map[string][]byte{}
	for _, o := range origins {
		if o.Where == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, o.Name))
		if err != nil {
			return nil, nil, false, err
		}
		data[o.Name] = b
	}
	return data, origins, true, nil
}

// releaseFiles returns the files release n of app read: those it kept, or,
// for releases made before Berth kept them, those of its kept source tree.
func (d *Deployer) releaseFiles(app string, n int, procfilePath string) (appFiles, error) {
	data, origins, ok, err := loadKeptFiles(d.filesDirOf(app, n))
	if err != nil {
		return appFiles{}, err
	}
	if ok {
		return parseAppFiles(data, origins)
	}
	src := d.srcDirOf(app, n)
	if !dirExists(src) {
		return appFiles{}, nil
	}
	return readAppFiles(src, procfilePath)
}

// imageCommand describes the command an image runs by default, as a
// Dockerfile would write it: `CMD ["sh"]`, `ENTRYPOINT ["x"] CMD ["y"]`.
func imageCommand(entrypoint, cmd []string) string {
	js := func(xs []string) string {
		b, _ := json.Marshal(xs)
		return string(b)
	}
	switch {
	case len(entrypoint) > 0 && len(cmd) > 0:
		return "ENTRYPOINT " + js(entrypoint) + " CMD " + js(cmd)
	case len(entrypoint) > 0:
		return "ENTRYPOINT " + js(entrypoint)
	case len(cmd) > 0:
		return "CMD " + js(cmd)
	}
	return "none: the image has no CMD"
}

// noProcfileNote says that web runs the image's default command because no
// Procfile was found, and where it was looked for.
func noProcfileNote(f appFiles, entrypoint, cmd []string) string {
	looked := ""
	if o, ok := f.origin(appfile.ProcfileName); ok {
		looked = " (looked in " + o.looked() + ")"
	}
	return fmt.Sprintf("No Procfile found%s: web runs the image's default command (%s)", looked, imageCommand(entrypoint, cmd))
}

// kindFiles labels the short-lived containers that read files from images.
const kindFiles = "files"

// readFiles finds the release's files, says in the deploy log where each
// was found, and keeps them with the release. A redeploy uses what its
// release kept; a rollback what the release it rolls back to kept.
func (j *job) readFiles(ctx context.Context, set appSettings) (appFiles, error) {
	if j.redeploy {
		return j.d.releaseFiles(j.app.Name, j.rel.Number, set.procfilePath)
	}
	var data map[string][]byte
	var origins []fileOrigin
	kept := false
	l := fileLookup{
		srcDir: j.srcDir, image: j.rel.Image, workDir: j.image.WorkingDir,
		procfilePath: set.procfilePath, appJSONPath: set.appJSONPath,
		labels: map[string]string{LabelInstance: j.d.names.Instance(), LabelApp: j.app.Name, LabelKind: kindFiles},
	}
	if j.rollbackOf != nil {
		var err error
		if data, origins, kept, err = loadKeptFiles(j.d.filesDirOf(j.app.Name, j.rollbackOf.Number)); err != nil {
			return appFiles{}, err
		}
		// A release made before Berth kept its files read only its source.
		l.image = ""
	}
	if kept {
		j.info("Using the files release %d read", j.rollbackOf.Number)
	} else {
		var err error
		if data, origins, err = lookupFiles(ctx, j.eng, l); err != nil {
			return appFiles{}, err
		}
		j.info("Reading %s", andList(appFileNames))
	}
	for _, o := range origins {
		j.detail("%s", o)
	}
	f, err := parseAppFiles(data, origins)
	if err != nil {
		return f, err
	}
	return f, keepFiles(j.d.filesDirOf(j.app.Name, j.rel.Number), data, origins)
}
