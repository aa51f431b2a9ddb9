//go:build swarmbench

// Package swarmbench is `bench/run swarm`: Berth on a three-node Swarm
// built by internal/swarmtest (dockerd per network namespace), through the
// real binary. It is a test because the rig takes a testing.TB; the build
// tag keeps it out of `go test ./...`. bench/run runs it with
// BERTH_SWARMBENCH_OUT set to the report to write.
package swarmbench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/swarmtest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// bins builds berth and the test app once per run.
func bins(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "berth-swarmbench-")
		if buildErr != nil {
			return
		}
		for _, b := range [][2]string{{"berth", "../../cmd/berth"}, {"testapp", "../../e2e/testapp"}, {"fwd", "./fwd"}} {
			cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(binDir, b[0]), b[1])
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", b[0], err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// requireRig fails loudly: a benchmark that cannot run says so.
func requireRig(t *testing.T) {
	t.Helper()
	if err := swarmtest.Available(); err != nil {
		t.Fatalf("bench swarm needs the swarm rig: %v", err)
	}
	if out, err := exec.Command("docker", "image", "inspect", "berth-test/busybox:1").CombinedOutput(); err != nil {
		t.Fatalf("bench swarm needs berth-test/busybox:1 on the host (scripts/build-test-images): %v %s", err, out)
	}
}

// cluster is a rig with Berth on node 1 and the app shop (web=N) deployed.
type cluster struct {
	rig *swarmtest.Rig
	b   *swarmtest.Berth
	ctx context.Context
	t   *testing.T
}

func newCluster(t *testing.T, ctx context.Context, web int) *cluster {
	t.Helper()
	dir := bins(t)
	rig := swarmtest.New(t, swarmtest.Options{Nodes: 3})
	host := "unix:///var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		host = h
	}
	if err := rig.Manager().LoadImages(ctx, host, "berth-test/busybox:1"); err != nil {
		t.Fatal(err)
	}
	b := rig.Berth(t, rig.Manager(), swarmtest.BerthOptions{Bin: filepath.Join(dir, "berth")})
	c := &cluster{rig: rig, b: b, ctx: ctx, t: t}
	c.must(nil, "checks:set", "--global", "default-uptime-seconds", "1")
	c.must(nil, "checks:set", "--global", "wait-to-retire", "1")
	c.must(nil, "apps:create", "shop")
	c.must(nil, "domains:add", "shop", "shop.example")
	c.must(nil, "scheduler:set", "shop", "selected", "swarm")
	c.must(bytes.NewReader(appTar(t, dir, web)), "git:from-archive", "shop", "-")
	if err := c.get("/"); err != nil {
		t.Fatalf("the app does not answer through the proxy: %v", err)
	}
	return c
}

func (c *cluster) must(stdin io.Reader, args ...string) string {
	c.t.Helper()
	out, code, err := c.b.Run(c.ctx, stdin, args...)
	if err != nil || code != 0 {
		c.t.Fatalf("berth %s: exit %d, %v\n%s\n--- daemon log:\n%s", strings.Join(args, " "), code, err, out, c.b.Log())
	}
	return out
}

// get retries a GET through the proxy on node 1 for up to 10 s.
func (c *cluster) get(path string) error {
	cl := &http.Client{Timeout: 3 * time.Second}
	var err error
	for range 20 {
		var req *http.Request
		req, err = http.NewRequestWithContext(c.ctx, "GET", "http://"+c.b.ProxyAddr+path, nil)
		if err != nil {
			return err
		}
		req.Host = "shop.example"
		var resp *http.Response
		if resp, err = cl.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return err
}

// webTasks are the addresses (ADDR:PORT) ps:report shows the web tasks
// running on.
func (c *cluster) webTasks() []string {
	out, code, err := c.b.Run(c.ctx, nil, "ps:report", "shop")
	if err != nil || code != 0 {
		return nil
	}
	var addrs []string
	for _, l := range strings.Split(out, "\n") {
		if _, after, ok := strings.Cut(l, "running on "); ok && strings.Contains(l, "Status web") {
			addrs = append(addrs, strings.Fields(after)[0])
		}
	}
	return addrs
}

func appTar(t *testing.T, dir string, web int) []byte {
	t.Helper()
	bin, err := os.ReadFile(filepath.Join(dir, "testapp"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM berth-test/busybox:1\nCOPY testapp /usr/bin/testapp\nENV APP_VERSION=v1\nCMD [\"testapp\", \"web\"]\n")},
		{"Procfile", 0o644, []byte("web: testapp web\n")},
		{"DOKKU_SCALE", 0o644, []byte(fmt.Sprintf("web=%d\n", web))},
		{"testapp", 0o755, bin},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
