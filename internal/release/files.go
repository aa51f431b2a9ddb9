package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
)

// FileNames are the files of an app that shape its deploys, by the names
// Berth keeps them under.
var FileNames = []string{appfile.ProcfileName, appfile.AppJSONName, appfile.ChecksFileName, appfile.ScaleFileName}

// Where a file was found.
const (
	InSource = "source"
	InImage  = "image"
)

// imageAppDir is where Dokku's older releases and buildpack images keep the
// app: looked at after the image's WORKDIR.
const imageAppDir = "/app"

// Origin says where one of an app's files was found, or where it was
// looked for in vain. A release keeps its files' origins with them.
type Origin struct {
	Name string `json:"name"`
	// Where is InSource, InImage or "" (not found).
	Where string `json:"where,omitempty"`
	// Path is where it was found: relative to the source root, or absolute
	// in the image.
	Path string `json:"path,omitempty"`
	// Source and Image are the paths looked at, in order.
	Source []string `json:"source,omitempty"`
	Image  []string `json:"image,omitempty"`
}

// String says where the file was found, for the deploy log.
func (o Origin) String() string {
	switch o.Where {
	case InSource:
		return fmt.Sprintf("%s: found in the source at %s", o.Name, o.Path)
	case InImage:
		return fmt.Sprintf("%s: found in the image at %s", o.Name, o.Path)
	}
	return fmt.Sprintf("%s: none (looked in %s)", o.Name, o.looked())
}

// looked lists where the file was looked for: "the source at Procfile, the
// image at /code/Procfile and /app/Procfile".
func (o Origin) looked() string {
	var parts []string
	if len(o.Source) > 0 {
		parts = append(parts, "the source at "+AndList(o.Source))
	}
	if len(o.Image) > 0 {
		parts = append(parts, "the image at "+AndList(o.Image))
	}
	if len(parts) == 0 {
		return "nothing: no source and no image"
	}
	return strings.Join(parts, ", ")
}

// AndList joins names as the deploy log lists them: "a, b and c".
func AndList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// ImageReader reads files from an image; the Engine is one.
type ImageReader interface {
	ReadImageFiles(ctx context.Context, image string, paths []string, labels map[string]string) (map[string][]byte, error)
}

// Lookup says where a release's files are looked for.
type Lookup struct {
	// SrcDir is the release's source tree ("" when it has none: image
	// deploys).
	SrcDir string
	// Image is the release's image ("" for none) and WorkDir its WORKDIR
	// ("" is /).
	Image, WorkDir string
	// ProcfilePath and AppJSONPath are ps:set procfile-path and
	// app-json:set appjson-path: relative to the source root, and to the
	// image's WORKDIR and /app.
	ProcfilePath, AppJSONPath string
	// Labels mark the container the engine creates to read the image.
	Labels map[string]string
}

// relPath is the path of a file relative to the places it is looked in.
func (l Lookup) relPath(name string) string {
	switch name {
	case appfile.ProcfileName:
		if l.ProcfilePath != "" {
			return l.ProcfilePath
		}
	case appfile.AppJSONName:
		if l.AppJSONPath != "" {
			return l.AppJSONPath
		}
	}
	return name
}

// LookupFiles finds each of the app's files, as Dokku does for Dockerfile
// and image deploys: at its path in the source tree first, then in the
// image under its WORKDIR, then under /app. It returns the contents of
// those found, by name, and where each was found or looked for.
func LookupFiles(ctx context.Context, r ImageReader, l Lookup) (map[string][]byte, []Origin, error) {
	data := map[string][]byte{}
	origins := make([]Origin, len(FileNames))
	var want []string
	for i, name := range FileNames {
		o := Origin{Name: name}
		rel := l.relPath(name)
		if l.SrcDir != "" {
			o.Source = []string{rel}
			b, err := ReadSourceFile(l.SrcDir, rel)
			if err != nil {
				return nil, nil, err
			}
			if b != nil {
				o.Where, o.Path, data[name] = InSource, rel, b
				origins[i] = o
				continue
			}
		}
		if l.Image != "" {
			wd := l.WorkDir
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
	got, err := r.ReadImageFiles(ctx, l.Image, want, l.Labels)
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
				o.Where, o.Path, data[o.Name] = InImage, p, b
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

// Files are the files of an app that shape its deploys, parsed (nil when
// not found).
type Files struct {
	Procfile *appfile.Procfile
	AppJSON  *appfile.AppJSON
	Scale    map[string]int
	Checks   *appfile.Checks
	// ChecksTemplate is a CHECKS file with templates ({{ var "X" }}),
	// expanded with the app's config when its checks run (Checks is nil).
	ChecksTemplate []byte
	// Origins say where each file was found (nil for releases made before
	// Berth kept them).
	Origins []Origin
}

// Origin returns where the named file was found.
func (f Files) Origin(name string) (Origin, bool) {
	for _, o := range f.Origins {
		if o.Name == name {
			return o, true
		}
	}
	return Origin{}, false
}

// StartupChecks returns the startup checks of a process type: for web,
// those of CHECKS when there is one (its templates expanded with vars, the
// app's config), else app.json's healthchecks for the type; nil for none.
// CHECKS replaces app.json's web checks as in Dokku, which converts CHECKS
// into app.json's healthchecks.web (docker-container-healthchecker convert).
func (f Files) StartupChecks(typ string, vars map[string]string) ([]appfile.Healthcheck, error) {
	if typ != "web" || (f.Checks == nil && f.ChecksTemplate == nil) {
		if f.AppJSON != nil {
			return f.AppJSON.Healthchecks[typ], nil
		}
		return nil, nil
	}
	if f.ChecksTemplate != nil {
		b, err := appfile.RenderChecks(f.ChecksTemplate, vars)
		if err != nil {
			return nil, app.Invalidf("%s", firstLine(err.Error()))
		}
		ck, err := appfile.ParseChecks(b)
		if err != nil {
			return nil, app.Invalidf("%s (after expanding its templates)", firstLine(err.Error()))
		}
		return ck.ToHealthchecks(), nil
	}
	return f.Checks.ToHealthchecks(), nil
}

// ChecksReplaceAppJSON reports that the app has both a CHECKS file and
// app.json startup checks for web, so CHECKS's are the ones that run.
func (f Files) ChecksReplaceAppJSON() bool {
	if f.Checks == nil && f.ChecksTemplate == nil || f.AppJSON == nil {
		return false
	}
	for _, hc := range f.AppJSON.Healthchecks["web"] {
		if hc.Type == "" || hc.Type == appfile.HealthcheckStartup {
			return true
		}
	}
	return false
}

// LivenessCheck returns app.json's liveness path check of a process type
// (the one the proxy probes), or nil.
func (f Files) LivenessCheck(typ string) *appfile.Healthcheck {
	if f.AppJSON == nil {
		return nil
	}
	for _, hc := range f.AppJSON.Healthchecks[typ] {
		if hc.Type == appfile.HealthcheckLiveness && hc.Path != "" {
			return &hc
		}
	}
	return nil
}

// LivenessCommand returns app.json's liveness command check of a process
// type (the one a Swarm task's health check runs), or nil.
func (f Files) LivenessCommand(typ string) *appfile.Healthcheck {
	if f.AppJSON == nil {
		return nil
	}
	for _, hc := range f.AppJSON.Healthchecks[typ] {
		if hc.Type == appfile.HealthcheckLiveness && len(hc.Command) > 0 {
			return &hc
		}
	}
	return nil
}

// LockedTypes returns, sorted, the process types whose quantity app.json's
// formation sets: ps:scale may not change them.
func (f Files) LockedTypes() []string {
	var out []string
	if f.AppJSON != nil {
		for t, fm := range f.AppJSON.Formation {
			if fm.Quantity != nil {
				out = append(out, t)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ParseFiles parses the files found. An error names the file, its line,
// and where it was found when that is not the source root.
func ParseFiles(data map[string][]byte, origins []Origin) (Files, error) {
	f := Files{Origins: origins}
	invalid := func(name string, err error) error {
		msg := firstLine(err.Error())
		if o, ok := f.Origin(name); ok && (o.Where == InImage || o.Path != name) {
			msg += fmt.Sprintf(" (in the %s at %s)", o.Where, o.Path)
		}
		return app.Invalidf("%s", msg)
	}
	if b, ok := data[appfile.ProcfileName]; ok {
		pf, err := appfile.ParseProcfile(b)
		if err != nil {
			return f, invalid(appfile.ProcfileName, err)
		}
		f.Procfile = &pf
	}
	if b, ok := data[appfile.AppJSONName]; ok {
		aj, err := appfile.ParseAppJSON(b)
		if err != nil {
			return f, invalid(appfile.AppJSONName, err)
		}
		f.AppJSON = &aj
	}
	if b, ok := data[appfile.ChecksFileName]; ok && appfile.ChecksHasTemplates(b) {
		// Expanded when the checks run, with the config of that time;
		// their syntax is checked now.
		if _, err := appfile.RenderChecks(b, nil); err != nil {
			return f, invalid(appfile.ChecksFileName, err)
		}
		f.ChecksTemplate = b
	} else if ok {
		ck, err := appfile.ParseChecks(b)
		if err != nil {
			return f, invalid(appfile.ChecksFileName, err)
		}
		f.Checks = &ck
	}
	if b, ok := data[appfile.ScaleFileName]; ok {
		sc, err := appfile.ParseScale(b)
		if err != nil {
			return f, invalid(appfile.ScaleFileName, err)
		}
		f.Scale = sc
	}
	return f, nil
}

// ReadSourceFiles reads the files of a source tree only, as releases made
// before Berth kept their files were read (srcDir "" has none).
func ReadSourceFiles(srcDir, procfilePath string) (Files, error) {
	data, origins, err := LookupFiles(context.Background(), nil, Lookup{SrcDir: srcDir, ProcfilePath: procfilePath})
	if err != nil {
		return Files{}, err
	}
	f, err := ParseFiles(data, origins)
	f.Origins = nil
	return f, err
}

// originsFile holds the origins of a release's kept files.
const originsFile = "origins.json"

// KeepFiles stores the files a release read, and where it found them, in
// dir, so redeploys, scaling and reports use what the release read.
func KeepFiles(dir string, data map[string][]byte, origins []Origin) error {
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

// LoadKeptFiles reads the files kept in dir; ok is false when the release
// kept none (it was made before Berth kept them).
func LoadKeptFiles(dir string) (data map[string][]byte, origins []Origin, ok bool, err error) {
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

// NoProcfileNote says that web runs the image's default command because no
// Procfile was found, and where it was looked for.
func NoProcfileNote(f Files, entrypoint, cmd []string) string {
	looked := ""
	if o, ok := f.Origin(appfile.ProcfileName); ok {
		looked = " (looked in " + o.looked() + ")"
	}
	return fmt.Sprintf("No Procfile found%s: web runs the image's default command (%s)", looked, imageCommand(entrypoint, cmd))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
