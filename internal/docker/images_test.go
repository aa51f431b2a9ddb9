package docker

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// timedWriter records when each marker first appears in the output.
type timedWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	markers map[string]time.Time
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for m, at := range w.markers {
		if at.IsZero() && strings.Contains(w.buf.String(), m) {
			w.markers[m] = time.Now()
		}
	}
	return len(p), nil
}

func TestBuildAndInspectImage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tag := "berth-test/build-" + f.id + ":1"
	dockerfile := fmt.Sprintf(`FROM %s
ARG GREETING=unset
RUN echo "first-$GREETING" && sleep 1 && echo "second-$GREETING" && echo built > /built
LABEL org.berthpaas.test.dockerfile="yes"
EXPOSE 5000
EXPOSE 53/udp
ENV APP_ENV=test
WORKDIR /srv
CMD ["httpd", "-f", "-p", "5000"]
`, testImage)

	// The markers only appear once the RUN step runs (the step line shows
	// "$GREETING").
	greeting := "hello-" + f.id
	first, second := "first-"+greeting, "second-"+greeting
	w := &timedWriter{markers: map[string]time.Time{first: {}, second: {}}}
	id, err := f.c.Build(f.ctx, tarContext(t, map[string]string{"Dockerfile": dockerfile}), BuildOptions{
		Tags:      []string{tag},
		Labels:    f.labels("org.berthpaas.test.option", "yes"),
		BuildArgs: map[string]string{"GREETING": greeting},
	}, w)
	f.removeImageLater(tag)
	if id != "" {
		f.removeImageLater(id)
	}
	out := w.buf.String()
	if err != nil {
		t.Fatalf("Build: %v\noutput:\n%s", err, out)
	}
	t.Logf("build output:\n%s", out)
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("image ID %q, want sha256:...", id)
	}
	if !strings.Contains(out, first+"\n") {
		t.Errorf("output lacks the RUN step's output with the build arg")
	}
	if !strings.Contains(out, "Step 1/") {
		t.Errorf("output lacks the builder's step lines")
	}
	// The RUN step sleeps between its two lines: the first must have been
	// written to out before the second was produced.
	if t1, t2 := w.markers[first], w.markers[second]; t1.IsZero() || t2.Sub(t1) < 500*time.Millisecond {
		t.Errorf("output not streamed: first line at %v, second at %v", t1, t2)
	}

	info, err := f.c.InspectImage(f.ctx, tag)
	if err != nil {
		t.Fatalf("InspectImage: %v", err)
	}
	if info.ID != id {
		t.Errorf("InspectImage(%s).ID = %s, want %s", tag, info.ID, id)
	}
	if !slices.Equal(info.ExposedPorts, []int{5000}) {
		t.Errorf("ExposedPorts = %v, want [5000] (UDP left out)", info.ExposedPorts)
	}
	if want := []string{"httpd", "-f", "-p", "5000"}; !slices.Equal(info.Cmd, want) {
		t.Errorf("Cmd = %q, want %q", info.Cmd, want)
	}
	if len(info.Entrypoint) != 0 {
		t.Errorf("Entrypoint = %q, want none", info.Entrypoint)
	}
	if !slices.Contains(info.Env, "APP_ENV=test") {
		t.Errorf("Env = %q, want APP_ENV=test in it", info.Env)
	}
	if info.WorkingDir != "/srv" {
		t.Errorf("WorkingDir = %q, want /srv", info.WorkingDir)
	}
	for k, v := range map[string]string{"org.berthpaas.test.dockerfile": "yes", "org.berthpaas.test.option": "yes", testLabel: f.id} {
		if info.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, info.Labels[k], v, info.Labels)
		}
	}
	if time.Since(info.Created) > time.Minute || time.Since(info.Created) < -time.Minute {
		t.Errorf("Created = %v, want about now", info.Created)
	}
	if !slices.Contains(info.Tags, tag) {
		t.Errorf("Tags = %q, want %s in it", info.Tags, tag)
	}

	// A second, cached build yields the same image.
	id2, _ := f.build(dockerfile, BuildOptions{Tags: []string{tag}, Labels: f.labels("org.berthpaas.test.option", "yes"), BuildArgs: map[string]string{"GREETING": greeting}})
	if id2 != id {
		t.Errorf("cached rebuild gave %s, want %s", id2, id)
	}

	t.Run("TagAndRemove", func(t *testing.T) {
		tag2 := "berth-test/build-" + f.id + ":retag"
		if err := f.c.TagImage(f.ctx, tag, tag2); err != nil {
			t.Fatalf("TagImage: %v", err)
		}
		f.removeImageLater(tag2)
		if info2, err := f.c.InspectImage(f.ctx, tag2); err != nil || info2.ID != id {
			t.Fatalf("InspectImage(%s) = %s, %v; want %s", tag2, info2.ID, err, id)
		}
		if err := f.c.RemoveImage(f.ctx, tag2, false); err != nil {
			t.Fatalf("RemoveImage(%s): %v", tag2, err)
		}
		if _, err := f.c.InspectImage(f.ctx, tag2); !errors.Is(err, ErrNotFound) {
			t.Errorf("InspectImage of a removed tag: %v, want ErrNotFound", err)
		}
		// The image itself is still there under its first tag.
		if _, err := f.c.InspectImage(f.ctx, id); err != nil {
			t.Errorf("InspectImage(%s) after untagging another tag: %v", id, err)
		}
		err := f.c.TagImage(f.ctx, "berth-test/no-such-image:"+f.id, tag2)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("TagImage of a missing image: %v, want ErrNotFound", err)
		}
	})
}

func TestBuildFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var lines []string
	for i := range 30 {
		lines = append(lines, fmt.Sprintf("line-%02d", i))
	}
	dockerfile := fmt.Sprintf("FROM %s\nRUN for l in %s; do echo $l; done; echo before-fail-$((%d+1)); exit 3\nCMD [\"sh\"]\n",
		testImage, strings.Join(lines, " "), len(f.id))
	var out bytes.Buffer
	id, err := f.c.Build(f.ctx, tarContext(t, map[string]string{"Dockerfile": dockerfile}), BuildOptions{
		Tags:   []string{"berth-test/fail-" + f.id + ":1"},
		Labels: f.labels(),
	}, &out)
	if err == nil {
		f.removeImageLater(id)
		t.Fatalf("Build of a failing Dockerfile succeeded with %s", id)
	}
	t.Logf("error: %v", err)
	checkOneLine(t, err)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("error is %T, want *BuildError", err)
	}
	if !strings.HasPrefix(err.Error(), "build failed: ") || !strings.Contains(be.Msg, "3") {
		t.Errorf("error %q, Msg %q: want \"build failed: ...\" naming exit code 3", err, be.Msg)
	}
	if len(be.Tail) == 0 || len(be.Tail) > buildTailLines {
		t.Fatalf("Tail has %d lines, want 1..%d: %q", len(be.Tail), buildTailLines, be.Tail)
	}
	marker := fmt.Sprintf("before-fail-%d", len(f.id)+1)
	if got := be.Tail[len(be.Tail)-1]; got != marker {
		t.Errorf("last Tail line = %q, want %s (tail %q)", got, marker, be.Tail)
	}
	if slices.Contains(be.Tail, "line-00") || !slices.Contains(be.Tail, "line-29") {
		t.Errorf("Tail is not the last lines: %q", be.Tail)
	}
	if !strings.Contains(out.String(), be.Msg) || !strings.Contains(out.String(), "line-00") {
		t.Errorf("out lacks the full output or the error:\n%s", out.String())
	}
	// No intermediate container is left behind.
	ctrs, err := f.c.ListContainers(f.ctx, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, ctr := range ctrs {
		if time.Since(ctr.Created) > 2*time.Minute {
			continue
		}
		d, err := f.c.InspectContainer(f.ctx, ctr.ID)
		if err == nil && strings.Contains(string(d.Raw), "before-fail-$((") {
			t.Errorf("the failed step's container %s was left behind", ctr.ID)
		}
	}

	// A build the engine refuses outright is a BuildError too.
	_, err = f.c.Build(f.ctx, tarContext(t, map[string]string{"Dockerfile": dockerfile}), BuildOptions{Dockerfile: "missing.Dockerfile"}, nil)
	if !errors.As(err, &be) {
		t.Fatalf("Build with a missing Dockerfile: %v (%T), want *BuildError", err, err)
	}
	t.Logf("missing Dockerfile: %v", err)
	checkOneLine(t, err)
}

// loadOldImage loads a tiny hand-made image, created in 2001, untagged (so
// dangling) and labelled with labels, and returns its ID. It stands in for
// an app image a deploy left dangling long ago.
func (f *engineFixture) loadOldImage(labels map[string]string) string {
	f.t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	body := "old image " + f.id + "\n"
	if err := tw.WriteHeader(&tar.Header{Name: "berth-old", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1e9, 0)}); err != nil {
		f.t.Fatal(err)
	}
	_, _ = tw.Write([]byte(body))
	_ = tw.Close()
	diffID := sha256.Sum256(layer.Bytes())
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      "2001-09-09T01:46:40Z",
		"config":       map[string]any{"Labels": labels, "Cmd": []string{"sh"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	imageID := sha256.Sum256(config)
	configName := hex.EncodeToString(imageID[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": nil, "Layers": []string{"layer/layer.tar"}}})

	var archive bytes.Buffer
	aw := tar.NewWriter(&archive)
	for _, file := range []struct {
		name string
		data []byte
	}{{configName, config}, {"layer/layer.tar", layer.Bytes()}, {"manifest.json", manifest}} {
		if err := aw.WriteHeader(&tar.Header{Name: file.name, Mode: 0o644, Size: int64(len(file.data)), ModTime: time.Unix(1e9, 0)}); err != nil {
			f.t.Fatal(err)
		}
		_, _ = aw.Write(file.data)
	}
	_ = aw.Close()

	res, err := f.c.api.ImageLoad(f.ctx, &archive, client.ImageLoadWithQuiet(true))
	if err != nil {
		f.t.Fatalf("ImageLoad: %v", err)
	}
	out, _ := io.ReadAll(res)
	res.Close()
	id := "sha256:" + hex.EncodeToString(imageID[:])
	f.removeImageLater(id)
	if _, err := f.c.InspectImage(f.ctx, id); err != nil {
		f.t.Fatalf("loading a hand-made image: %v (engine said %s)", err, out)
	}
	return id
}

func TestListAndPruneImages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tag := "berth-test/list-" + f.id + ":1"
	tagged, _ := f.build(fmt.Sprintf("FROM %s\nRUN echo tagged-%s > /id\n", testImage, f.id),
		BuildOptions{Tags: []string{tag}, Labels: f.labels("berth.test.kind", "tagged")})
	fresh, _ := f.build(fmt.Sprintf("FROM %s\nRUN echo fresh-%s > /id\n", testImage, f.id),
		BuildOptions{Labels: f.labels("berth.test.kind", "fresh", "berth.test.dangling", "")})
	old := f.loadOldImage(f.labels("berth.test.kind", "old", "berth.test.dangling", ""))

	imgs, err := f.c.ListImages(f.ctx, f.labels())
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	byID := map[string]ImageSummary{}
	for _, im := range imgs {
		byID[im.ID] = im
	}
	if len(imgs) != 3 || byID[tagged].ID == "" || byID[fresh].ID == "" || byID[old].ID == "" {
		t.Fatalf("ListImages(%s=%s) = %+v, want exactly %s, %s and %s", testLabel, f.id, imgs, tagged, fresh, old)
	}
	if got := byID[tagged]; !slices.Equal(got.Tags, []string{tag}) || got.Labels["berth.test.kind"] != "tagged" || time.Since(got.Created) > time.Minute {
		t.Errorf("tagged image listed as %+v", got)
	}
	if got := byID[fresh]; len(got.Tags) != 0 {
		t.Errorf("untagged image has tags %q", got.Tags)
	}
	if got := byID[old]; len(got.Tags) != 0 || got.Created.Year() != 2001 {
		t.Errorf("old image listed as %+v, want no tags, created in 2001", got)
	}
	// A label that only has to be present; a label with a value.
	imgs, err = f.c.ListImages(f.ctx, f.labels("berth.test.dangling", ""))
	if err != nil || len(imgs) != 2 {
		t.Errorf("ListImages(label present) = %+v, %v; want %s and %s", imgs, err, fresh, old)
	}
	imgs, err = f.c.ListImages(f.ctx, f.labels("berth.test.kind", "tagged"))
	if err != nil || len(imgs) != 1 || imgs[0].ID != tagged {
		t.Errorf("ListImages(label=value) = %+v, %v; want only %s", imgs, err, tagged)
	}

	removed, err := f.c.PruneDanglingImages(f.ctx)
	if err != nil {
		t.Fatalf("PruneDanglingImages: %v", err)
	}
	t.Logf("pruned %d images", removed)
	if _, err := f.c.InspectImage(f.ctx, old); !errors.Is(err, ErrNotFound) {
		t.Errorf("old dangling image after prune: %v, want ErrNotFound", err)
	}
	if _, err := f.c.InspectImage(f.ctx, fresh); err != nil {
		t.Errorf("dangling image younger than PruneMinAge was pruned: %v", err)
	}
	if _, err := f.c.InspectImage(f.ctx, tagged); err != nil {
		t.Errorf("tagged image after prune: %v", err)
	}
	if err := f.c.RemoveImage(f.ctx, old, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveImage of a pruned image: %v, want ErrNotFound", err)
	}
}
