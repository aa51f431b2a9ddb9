package release

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeImage is an image's file system: absolute path -> content.
type fakeImage struct {
	files map[string]string
	calls [][]string
	err   error
}

func (f *fakeImage) ReadImageFiles(_ context.Context, image string, paths []string, _ map[string]string) (map[string][]byte, error) {
	f.calls = append(f.calls, paths)
	if f.err != nil {
		return nil, f.err
	}
	out := map[string][]byte{}
	for _, p := range paths {
		if b, ok := f.files[p]; ok {
			out[p] = []byte(b)
		}
	}
	return out, nil
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLookupFilesOrder(t *testing.T) {
	src := writeTree(t, map[string]string{"Procfile": "web: from-source\n"})
	img := &fakeImage{files: map[string]string{
		"/code/Procfile":    "web: from-workdir\n", // the source's wins
		"/code/app.json":    "{}",
		"/app/app.json":     `{"x": 1}`, // WORKDIR's wins
		"/app/CHECKS":       "/\n",
		"/app/DOKKU_SCALE":  "web=1\n",
		"/code/DOKKU_SCALE": "web=2\n",
	}}
	data, origins, err := LookupFiles(context.Background(), img, Lookup{SrcDir: src, Image: "img", WorkDir: "/code"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Procfile": "web: from-source\n", "app.json": "{}", "CHECKS": "/\n", "DOKKU_SCALE": "web=2\n"}
	for name, w := range want {
		if string(data[name]) != w {
			t.Errorf("%s = %q, want %q", name, data[name], w)
		}
	}
	got := map[string]string{}
	for _, o := range origins {
		got[o.Name] = o.String()
	}
	for name, w := range map[string]string{
		"Procfile":    "Procfile: found in the source at Procfile",
		"app.json":    "app.json: found in the image at /code/app.json",
		"CHECKS":      "CHECKS: found in the image at /app/CHECKS",
		"DOKKU_SCALE": "DOKKU_SCALE: found in the image at /code/DOKKU_SCALE",
	} {
		if got[name] != w {
			t.Errorf("origin of %s = %q, want %q", name, got[name], w)
		}
	}
	// One read of the image, only for the files the source lacks.
	if len(img.calls) != 1 || !reflect.DeepEqual(img.calls[0], []string{"/code/app.json", "/app/app.json", "/code/CHECKS", "/app/CHECKS", "/code/DOKKU_SCALE", "/app/DOKKU_SCALE"}) {
		t.Errorf("image reads: %q", img.calls)
	}
}

func TestLookupFilesPathsAndNone(t *testing.T) {
	// ps:set procfile-path and app-json:set appjson-path apply in the
	// source and in the image; an empty WORKDIR is /; /app is looked at
	// once when it is the WORKDIR.
	img := &fakeImage{files: map[string]string{"/misc/dokku/Procfile": "web: x\n", "/app/cfg/app.json": "{}"}}
	data, origins, err := LookupFiles(context.Background(), img, Lookup{Image: "img", ProcfilePath: "misc/dokku/Procfile", AppJSONPath: "cfg/app.json"})
	if err != nil {
		t.Fatal(err)
	}
	if string(data["Procfile"]) != "web: x\n" || string(data["app.json"]) != "{}" || len(data) != 2 {
		t.Errorf("data = %q", data)
	}
	if o := origins[0].String(); o != "Procfile: found in the image at /misc/dokku/Procfile" {
		t.Errorf("Procfile origin %q", o)
	}
	if o := origins[2].String(); o != "CHECKS: none (looked in the image at /CHECKS and /app/CHECKS)" {
		t.Errorf("CHECKS origin %q", o)
	}
	_, origins, err = LookupFiles(context.Background(), img, Lookup{SrcDir: t.TempDir(), Image: "img", WorkDir: "/app"})
	if err != nil {
		t.Fatal(err)
	}
	if o := origins[0].String(); o != "Procfile: none (looked in the source at Procfile, the image at /app/Procfile)" {
		t.Errorf("Procfile origin %q", o)
	}
	// No image (an old release's source only): the image is not read.
	img.calls = nil
	_, origins, err = LookupFiles(context.Background(), img, Lookup{SrcDir: t.TempDir()})
	if err != nil || len(img.calls) != 0 || origins[3].String() != "DOKKU_SCALE: none (looked in the source at DOKKU_SCALE)" {
		t.Errorf("source only: %v, %q, %q", err, img.calls, origins[3])
	}
	// The engine's error is the deploy's.
	img.err = errors.New("engine gone")
	if _, _, err := LookupFiles(context.Background(), img, Lookup{Image: "img"}); err == nil || !strings.Contains(err.Error(), "engine gone") {
		t.Errorf("engine error: %v", err)
	}
}

func TestParseAppFilesSaysWhere(t *testing.T) {
	origins := []Origin{{Name: "Procfile", Where: InImage, Path: "/code/Procfile"}}
	_, err := ParseFiles(map[string][]byte{"Procfile": []byte("web: x\nBad_Type: y\n")}, origins)
	if err == nil || !strings.Contains(err.Error(), "Procfile line 2") || !strings.Contains(err.Error(), "(in the image at /code/Procfile)") {
		t.Errorf("err = %v", err)
	}
	origins = []Origin{{Name: "Procfile", Where: InSource, Path: "Procfile"}}
	_, err = ParseFiles(map[string][]byte{"Procfile": []byte("Bad_Type: y\n")}, origins)
	if err == nil || strings.Contains(err.Error(), "(in the") {
		t.Errorf("err at the source root = %v", err)
	}
}

func TestKeptFilesRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "files")
	if _, _, ok, err := LoadKeptFiles(dir); ok || err != nil {
		t.Fatalf("nothing kept: ok=%v err=%v", ok, err)
	}
	data := map[string][]byte{"Procfile": []byte("web: x\n"), "CHECKS": []byte("/\n")}
	origins := []Origin{
		{Name: "Procfile", Where: InImage, Path: "/code/Procfile", Image: []string{"/code/Procfile", "/app/Procfile"}},
		{Name: "app.json", Source: []string{"app.json"}},
		{Name: "CHECKS", Where: InSource, Path: "CHECKS", Source: []string{"CHECKS"}},
	}
	if err := KeepFiles(dir, data, origins); err != nil {
		t.Fatal(err)
	}
	gotData, gotOrigins, ok, err := LoadKeptFiles(dir)
	if err != nil || !ok || !reflect.DeepEqual(gotData, data) || !reflect.DeepEqual(gotOrigins, origins) {
		t.Errorf("loaded %q %+v %v %v", gotData, gotOrigins, ok, err)
	}
}

func TestNoProcfileNote(t *testing.T) {
	f := Files{Origins: []Origin{{Name: "Procfile", Source: []string{"Procfile"}, Image: []string{"/code/Procfile", "/app/Procfile"}}}}
	got := NoProcfileNote(f, nil, []string{"bash"})
	want := `No Procfile found (looked in the source at Procfile, the image at /code/Procfile and /app/Procfile): web runs the image's default command (CMD ["bash"])`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := imageCommand([]string{"/entry"}, []string{"serve", "-v"}); got != `ENTRYPOINT ["/entry"] CMD ["serve","-v"]` {
		t.Errorf("imageCommand = %s", got)
	}
	if got := imageCommand(nil, nil); !strings.Contains(got, "no CMD") {
		t.Errorf("imageCommand of nothing = %s", got)
	}
}

// What the rest of the pipeline asks of a release's files: each type's
// startup checks (CHECKS for web when there is one, else app.json's), app.json's liveness
// path check, and the types whose quantity app.json fixes.
func TestFilesChecksAndLocks(t *testing.T) {
	data := map[string][]byte{
		"app.json": []byte(`{"formation": {"web": {"quantity": 2}, "clock": {"quantity": 0}, "worker": {}},
			"healthchecks": {"web": [{"type": "liveness", "command": ["true"]}, {"type": "liveness", "path": "/live"}, {"path": "/ready"}],
			                 "worker": [{"type": "startup", "command": ["true"]}]}}`),
		"CHECKS": []byte("/up\n"),
	}
	f, err := ParseFiles(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.LockedTypes(); !reflect.DeepEqual(got, []string{"clock", "web"}) {
		t.Errorf("LockedTypes = %v, want [clock web]", got)
	}
	if hc := f.LivenessCheck("web"); hc == nil || hc.Path != "/live" {
		t.Errorf("LivenessCheck(web) = %+v, want the path check /live", hc)
	}
	if hc := f.LivenessCheck("worker"); hc != nil {
		t.Errorf("LivenessCheck(worker) = %+v, want none", hc)
	}
	if got, _ := f.StartupChecks("web", nil); len(got) != 1 || got[0].Path != "/up" {
		t.Errorf("StartupChecks(web) = %+v, want CHECKS's (it replaces app.json's web checks, as in Dokku)", got)
	}
	if !f.ChecksReplaceAppJSON() {
		t.Error("ChecksReplaceAppJSON = false with CHECKS and app.json web checks")
	}
	noChecks, err := ParseFiles(map[string][]byte{"app.json": data["app.json"]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := noChecks.StartupChecks("web", nil); len(got) != 3 || noChecks.ChecksReplaceAppJSON() {
		t.Errorf("without CHECKS: StartupChecks(web) = %+v, want app.json's three", got)
	}
	if got, _ := f.StartupChecks("worker", nil); len(got) != 1 || len(got[0].Command) != 1 {
		t.Errorf("StartupChecks(worker) = %+v", got)
	}

	f, err = ParseFiles(map[string][]byte{"CHECKS": []byte("/up\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.StartupChecks("web", nil); len(got) != 1 || got[0].Path != "/up" {
		t.Errorf("StartupChecks(web) from CHECKS = %+v", got)
	}
	if got, _ := f.StartupChecks("worker", nil); got != nil {
		t.Errorf("StartupChecks(worker) from CHECKS = %+v, want none (CHECKS is web's)", got)
	}
	if f.LockedTypes() != nil || f.LivenessCheck("web") != nil {
		t.Errorf("without app.json: locked %v, liveness %v", f.LockedTypes(), f.LivenessCheck("web"))
	}

	// CHECKS with templates: their syntax checked at once, expanded with
	// the config when the checks run.
	tmpl := []byte("WAIT={{ var \"W\" }}\n{{ var \"HC\" }} {{ var \"HC\" }}\n")
	f, err = ParseFiles(map[string][]byte{"CHECKS": tmpl}, nil)
	if err != nil || f.Checks != nil || f.ChecksTemplate == nil {
		t.Fatalf("templated CHECKS: %+v, %v", f, err)
	}
	got, err := f.StartupChecks("web", map[string]string{"W": "3", "HC": "/healthcheck"})
	if err != nil || len(got) != 1 || got[0].Path != "/healthcheck" || got[0].Content != "/healthcheck" || got[0].Wait == nil || *got[0].Wait != 3 {
		t.Errorf("expanded CHECKS = %+v, %v", got, err)
	}
	if _, err := f.StartupChecks("web", nil); err == nil || !strings.Contains(err.Error(), "CHECKS line 1") || !strings.Contains(err.Error(), "after expanding its templates") {
		t.Errorf("WAIT= after expansion: %v", err)
	}
	if _, err := ParseFiles(map[string][]byte{"CHECKS": []byte("/\n{{ nope }}\n")}, nil); err == nil || !strings.Contains(err.Error(), "CHECKS line 2: template:") {
		t.Errorf("an unknown template function: %v", err)
	}
}
