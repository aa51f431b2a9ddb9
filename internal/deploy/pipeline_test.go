package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// A first deploy runs every step: the source is unpacked, built with the
// release's labels, the formation started under temporary names, checked,
// switched (renamed to APP.TYPE.N, routed) and the release is live.
func TestDeployFirstRelease(t *testing.T) {
	h := newHarness(t)
	h.eng.buildOutput = "Step 1/1 : FROM scratch\n"
	rel := h.mustDeploy(twoTypes...)
	if rel.Number != 1 || rel.Image != "berth/shop:1" {
		t.Errorf("release = %d %q", rel.Number, rel.Image)
	}
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" {
		t.Errorf("containers = %s", got)
	}
	opts := h.eng.buildOpts[0]
	if opts.Dockerfile != "Dockerfile" || opts.Labels[naming.LabelApp] != "shop" || opts.Labels[naming.LabelRelease] != "1" {
		t.Errorf("build options = %+v", opts)
	}
	rels := h.releases()
	if len(rels) != 1 || rels[0].Status != store.ReleaseLive || rels[0].WebPort != 5000 || rels[0].Formation["worker"] != 1 {
		t.Errorf("releases = %+v", rels)
	}
	for _, want := range []string{"Unpacking the archive", "Building shop from Dockerfile", "       Step 1/1", "Releasing shop (release 1)", "Starting web.1", "Starting worker.1", "Waiting 0s for web.1", "Switched shop to release 1", "Application deployed: shop release 1"} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, h.out)
		}
	}
	if len(h.router.synced) < 1 {
		t.Error("the switch did not route")
	}
	web := h.eng.byName()["shop.web.1"]
	if web.spec.PublishPort != 5000 || !slices.Contains(web.spec.Env, "PORT=5000") || !slices.Contains(web.spec.Env, "DYNO=web.1") {
		t.Errorf("web spec = %+v", web.spec)
	}
	if web.Labels[naming.LabelGeneration] == "" || h.eng.byName()["shop.worker.1"].spec.PublishPort != 0 {
		t.Error("labels or ports of the new containers are wrong")
	}
}

// A second deploy starts the new release beside the old one; at the switch
// the old web container retires (drained, stopped, removed) and the new
// ones take the names.
func TestDeployReplacesOldRelease(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	old := h.eng.byName()["shop.web.1"]
	h.mustDeploy(twoTypes...)
	h.d.WaitRetired()
	if got := h.eng.names(); got != "shop.web.1=running shop.worker.1=running" {
		t.Errorf("containers = %s", got)
	}
	if h.eng.byName()["shop.web.1"].ID == old.ID {
		t.Error("web.1 is still the old container")
	}
	if len(h.router.drained) != 1 || len(h.router.drained[0]) != 1 {
		t.Errorf("drained = %v, want the old web container", h.router.drained)
	}
	// The old ones are renamed out of the way first, then the new ones in.
	renames := h.eng.callsMatching("rename ")[2:]
	if len(renames) != 4 || !strings.HasPrefix(renames[0], "rename shop.worker.1 shop.worker.1.") || !strings.HasPrefix(renames[1], "rename shop.web.1 shop.web.1.") ||
		!strings.HasSuffix(renames[2], " shop.web.1") || !strings.HasSuffix(renames[3], " shop.worker.1") {
		t.Errorf("renames = %q", renames)
	}
	rels := h.releases()
	if rels[0].Status != store.ReleaseLive || rels[1].Status != store.ReleaseSuperseded {
		t.Errorf("statuses = %s %s", rels[0].Status, rels[1].Status)
	}
}

// cleanedUp checks that a deploy that failed at a step before the switch
// left the old release as it was, removed the new containers, marked its
// release failed with the step, and dropped its source.
func cleanedUp(t *testing.T, h *harness, before string, step string) {
	t.Helper()
	if got := h.eng.names(); got != before {
		t.Errorf("containers after the failure = %s, want %s", got, before)
	}
	rels := h.releases()
	last := rels[0]
	if last.Status != store.ReleaseFailed || !strings.HasPrefix(last.Error, step+": ") || last.FinishedAt.IsZero() {
		t.Errorf("failed release = %s %q", last.Status, last.Error)
	}
	if last.Config == nil {
		t.Error("the failed release does not record the config it would have run with")
	}
	if len(rels) > 1 {
		live := 0
		for _, r := range rels[1:] {
			if r.Status == store.ReleaseLive {
				live++
			}
		}
		if live != 1 {
			t.Errorf("%d earlier releases are live, want the old one", live)
		}
	}
	if dirExists(h.d.releaseDir("shop", last.Number)) {
		t.Error("the failed release's files are kept")
	}
	if !strings.Contains(h.logs.String(), "deploy failed") {
		t.Error("the failure is not logged")
	}
}

func TestSourceStepFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	_, err := h.d.Deploy(context.Background(), "shop", Source{Kind: SourceArchive, Archive: strings.NewReader("not a tar")}, h.out, "test")
	se := stepError(t, err, "source")
	if !errors.Is(se, app.ErrInvalid) || !strings.Contains(se.Error(), "Deploy failed at step source: The archive is not a valid") {
		t.Errorf("err = %v", err)
	}
	cleanedUp(t, h, before, "source")
	if len(h.eng.callsMatching("build")) != 1 {
		t.Error("a failed source still built")
	}
}

func TestBuildStepFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	h.eng.buildErr = &docker.BuildError{Msg: "The command '/bin/sh -c make' returned a non-zero code: 2", Tail: []string{"make: *** [all] Error 2"}}
	_, err := h.deploy(twoTypes...)
	se := stepError(t, err, "build")
	if len(se.Tail) != 1 || se.Tail[0] != "make: *** [all] Error 2" {
		t.Errorf("tail = %q", se.Tail)
	}
	cleanedUp(t, h, before, "build")
}

// An image removal waits for a running build: the engine's classic builder
// reuses untagged parent images as its cache, and removing an image takes
// those with it (a failed deploy's image, removed in the background while
// the next push built, failed that build with "failed to get digest").
func TestImageRemovalWaitsForBuilds(t *testing.T) {
	h := newHarness(t)
	h.eng.addImage("old:1", docker.ImageInfo{ID: "sha256:old1"})
	h.eng.building, h.eng.holdBuild = make(chan struct{}), make(chan struct{})
	deployed := make(chan error, 1)
	go func() { _, err := h.deploy(twoTypes...); deployed <- err }()
	<-h.eng.building
	removed := make(chan error, 1)
	go func() { removed <- h.d.removeImage(context.Background(), h.eng, "old:1", false) }()
	select {
	case err := <-removed:
		t.Fatalf("the image was removed during a build (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(h.eng.holdBuild)
	if err := <-removed; err != nil {
		t.Fatal(err)
	}
	if err := <-deployed; err != nil {
		t.Fatal(err)
	}
	calls := h.eng.callsMatching("")
	b, r := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "build ") }), slices.Index(calls, "rmi old:1")
	if b < 0 || r < b {
		t.Errorf("calls = %q, want the build before the removal", calls)
	}
}

func TestBuildWithoutDockerfile(t *testing.T) {
	h := newHarness(t)
	src := Source{Kind: SourceArchive, Archive: strings.NewReader(string(makeTar(t, file("Procfile", procfile))))}
	_, err := h.d.Deploy(context.Background(), "shop", src, h.out, "test")
	se := stepError(t, err, "build")
	if !errors.Is(err, app.ErrInvalid) || !strings.Contains(se.Error(), "No Dockerfile found at Dockerfile") {
		t.Errorf("err = %v", err)
	}
	cleanedUp(t, h, "", "build")
}

// Build args come from docker-options: KEY=VALUE as given, KEY from the
// app's config (skipped when unset).
func TestBuildArgs(t *testing.T) {
	h := newHarness(t)
	a := h.app()
	h.tx(func(tx *store.Tx) error {
		if err := tx.SetConfig(a.Scope(), map[string]string{"TOKEN": "s3cret"}); err != nil {
			return err
		}
		return tx.SetProperty(a.Scope(), "docker-options", "build", "--build-arg MODE=prod\n--build-arg TOKEN\n--build-arg UNSET\n--no-cache")
	})
	h.mustDeploy(twoTypes...)
	opts := h.eng.buildOpts[0]
	if opts.BuildArgs["MODE"] != "prod" || opts.BuildArgs["TOKEN"] != "s3cret" || len(opts.BuildArgs) != 2 || !opts.NoCache {
		t.Errorf("build args = %v, no-cache %v", opts.BuildArgs, opts.NoCache)
	}
}

func TestImageDeploy(t *testing.T) {
	h := newHarness(t)
	h.eng.addImage("example/app:1", docker.ImageInfo{ExposedPorts: []int{8080}, Cmd: []string{"/serve"}})
	rel, err := h.d.Deploy(context.Background(), "shop", Source{Kind: SourceImage, Ref: "example/app:1"}, h.out, "test")
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, h.out)
	}
	if rel.WebPort != 8080 || len(h.eng.callsMatching("tag example/app:1 berth/shop:1")) != 1 || len(h.eng.buildOpts) != 0 {
		t.Errorf("release %+v, calls %q", rel, h.eng.calls)
	}
	if !strings.Contains(h.out.String(), "Deploying image example/app:1") {
		t.Errorf("output:\n%s", h.out)
	}
	// An image that is not on the engine is refused at build, nothing started.
	_, err = h.d.Deploy(context.Background(), "shop", Source{Kind: SourceImage, Ref: "example/missing"}, h.out, "test")
	if se := stepError(t, err, "build"); !strings.Contains(se.Error(), "Image example/missing is not on the engine") || !errors.Is(err, app.ErrInvalid) {
		t.Errorf("err = %v", err)
	}
	cleanedUp(t, h, "shop.web.1=running", "build")
}

func TestReleaseStepFails(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	before := h.eng.names()
	_, err := h.deploy("Procfile", "web: /bin/web\nweb: /bin/other\n")
	stepError(t, err, "release")
	cleanedUp(t, h, before, "release")
}

// The port map (PortFor) decides the web port; its error fails the release.
func TestReleasePortFor(t *testing.T) {
	h := newHarness(t)
	h.d.portFor = func(_ context.Context, app string, detected int) (int, error) {
		if detected != 5000 {
			t.Errorf("detected port %d", detected)
		}
		return 3000, nil
	}
	rel := h.mustDeploy(twoTypes...)
	if rel.WebPort != 3000 || !slices.Contains(h.eng.byName()["shop.web.1"].spec.Env, "PORT=3000") {
		t.Errorf("web port %d", rel.WebPort)
	}
	h.d.portFor = func(context.Context, string, int) (int, error) { return 0, errors.New("port map broken") }
	_, err := h.deploy(twoTypes...)
	stepError(t, err, "release")
	cleanedUp(t, h, "shop.web.1=running shop.worker.1=running", "release")
}

// entry is a regular file of a test archive (release's tests cover the
// other kinds of entries).
type entry struct{ name, body string }

func file(name, body string) entry { return entry{name: name, body: body} }

func makeTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
