package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testLabel is the label that marks everything a test creates.
const testLabel = "berth.test"

// engineFixture is a connected client plus a per-test unique token, with
// helpers that register cleanups for whatever they create.
type engineFixture struct {
	t   *testing.T
	c   *Client
	ctx context.Context
	// id is unique per test; it names and labels the test's objects.
	id string
}

// newFixture connects to the engine and checks that testImage exists,
// failing when BERTH_REQUIRE_DOCKER=1 and skipping otherwise. The test's
// context ends with the test (and after at most a minute).
func newFixture(t *testing.T) *engineFixture {
	t.Helper()
	c := newEngineClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if _, err := c.InspectImage(ctx, testImage); err != nil {
		msg := "image " + testImage + " unusable (run scripts/build-test-images): " + err.Error()
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return &engineFixture{t: t, c: c, ctx: ctx, id: randomToken()}
}

func randomToken() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// labels returns the test's marker label plus extra key/value pairs.
func (f *engineFixture) labels(kv ...string) map[string]string {
	m := map[string]string{testLabel: f.id}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// name returns a unique object name with the given suffix.
func (f *engineFixture) name(suffix string) string {
	return "berth-test-" + f.id + "-" + suffix
}

// cleanupCtx is a fresh context for cleanups: the test's may be done.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 20*time.Second)
}

// create creates a container from spec (adding the test label and, when
// spec.Name is "", a unique name) and removes it when the test ends.
func (f *engineFixture) create(spec ContainerSpec) string {
	f.t.Helper()
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[testLabel] = f.id
	if spec.Image == "" {
		spec.Image = testImage
	}
	id, err := f.c.CreateContainer(f.ctx, spec)
	if err != nil {
		f.t.Fatalf("CreateContainer: %v", err)
	}
	f.t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := f.c.RemoveContainer(ctx, id, true); err != nil {
			f.t.Errorf("cleanup: %v", err)
		}
	})
	return id
}

// start starts a container, failing the test on error.
func (f *engineFixture) start(id string) {
	f.t.Helper()
	if err := f.c.StartContainer(f.ctx, id); err != nil {
		f.t.Fatalf("StartContainer: %v", err)
	}
}

// removeImageLater removes ref when the test ends.
func (f *engineFixture) removeImageLater(ref string) {
	f.t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := f.c.RemoveImage(ctx, ref, true); err != nil && !errors.Is(err, ErrNotFound) {
			f.t.Errorf("cleanup: %v", err)
		}
	})
}

// build builds a Dockerfile (plus extra files) and removes the image when
// the test ends; it returns the image ID and the build output.
func (f *engineFixture) build(dockerfile string, opts BuildOptions) (string, string) {
	f.t.Helper()
	var out bytes.Buffer
	id, err := f.c.Build(f.ctx, tarContext(f.t, map[string]string{"Dockerfile": dockerfile}), opts, &out)
	if err != nil {
		f.t.Fatalf("Build: %v\noutput:\n%s", err, out.String())
	}
	f.removeImageLater(id)
	for _, tag := range opts.Tags {
		f.removeImageLater(tag)
	}
	return id, out.String()
}

// tarContext makes an in-memory tar build context.
func tarContext(t *testing.T, files map[string]string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// checkOneLine fails the test if err's message spans several lines.
func checkOneLine(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error message spans several lines:\n%s", err)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
