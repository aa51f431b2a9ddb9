package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
)

// testImage is built locally by scripts/build-test-images; nothing is pulled.
const testImage = "berth-test/busybox:1"

func TestNewUnreachableEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent")
	t.Setenv("DOCKER_API_VERSION", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := New(ctx)
	if err == nil {
		c.Close()
		t.Fatal("New succeeded against unix:///nonexistent")
	}
	if !errors.Is(err, ErrEngineUnavailable) {
		t.Fatalf("New error = %q (%T), want one wrapping ErrEngineUnavailable", err, err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("error message spans several lines:\n%s", msg)
	}
	for _, want := range []string{"unix:///nonexistent", "dockerd", "scripts/ensure-docker"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error message %q does not mention %q", msg, want)
		}
	}
	if len(msg) > 200 {
		t.Errorf("error message is %d bytes, want a short line: %q", len(msg), msg)
	}
}

func TestNewRefusedConnection(t *testing.T) {
	// A socket path that exists but where nothing listens: the classic
	// "dockerd stopped, stale socket left behind" case.
	sock := t.TempDir() + "/docker.sock"
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	t.Setenv("DOCKER_API_VERSION", "")

	_, err := New(context.Background())
	if !errors.Is(err, ErrEngineUnavailable) {
		t.Fatalf("New error = %v, want ErrEngineUnavailable", err)
	}
	t.Logf("error: %s", err)
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, sock) {
		t.Errorf("error message %q: want one line naming %s", msg, sock)
	}
}

func TestNewCancelledContextIsNotUnavailable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("New with a cancelled context: error = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrEngineUnavailable) {
		t.Errorf("New with a cancelled context reported the engine unavailable: %v", err)
	}
}

// newEngineClient connects to the real engine. It fails the test when
// BERTH_REQUIRE_DOCKER=1 and the engine is unreachable; otherwise it skips.
func newEngineClient(t *testing.T) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := New(ctx)
	if err != nil {
		if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
			t.Fatalf("BERTH_REQUIRE_DOCKER=1 but the engine is unusable: %v", err)
		}
		t.Skipf("skipping Docker integration test: %v (set BERTH_REQUIRE_DOCKER=1 to make this a failure)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestEngineIntegration(t *testing.T) {
	c := newEngineClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	t.Logf("engine at %s, API %s", c.Host(), c.APIVersion())
	if c.APIVersion() == "" || versions.LessThan(c.APIVersion(), client.MinAPIVersion) {
		t.Errorf("negotiated API version %q, want >= %s", c.APIVersion(), client.MinAPIVersion)
	}

	t.Run("RunContainer", func(t *testing.T) {
		if _, err := c.api.ImageInspect(ctx, testImage); err != nil {
			if cerrdefs.IsNotFound(err) {
				if os.Getenv("BERTH_REQUIRE_DOCKER") == "1" {
					t.Fatalf("image %s not present: run scripts/build-test-images", testImage)
				}
				t.Skipf("image %s not present: run scripts/build-test-images", testImage)
			}
			t.Fatalf("ImageInspect %s: %v", testImage, err)
		}

		created, err := c.api.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name:  fmt.Sprintf("berth-test-docker-%d", time.Now().UnixNano()),
			Image: testImage,
			Config: &container.Config{
				Cmd:    []string{"echo", "hi"},
				Labels: map[string]string{"org.berthpaas.test": "internal/docker"},
			},
			HostConfig: &container.HostConfig{NetworkMode: "none"},
		})
		if err != nil {
			t.Fatalf("ContainerCreate: %v", err)
		}
		t.Cleanup(func() {
			// Not ctx: it may already be done when cleanup runs.
			rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer rcancel()
			if _, err := c.api.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				t.Errorf("ContainerRemove %s: %v", created.ID, err)
			}
		})

		if _, err := c.api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatalf("ContainerStart: %v", err)
		}

		wait := c.api.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case res := <-wait.Result:
			if res.Error != nil {
				t.Fatalf("container wait error: %s", res.Error.Message)
			}
			if res.StatusCode != 0 {
				t.Fatalf("container exited with status %d", res.StatusCode)
			}
		case err := <-wait.Error:
			t.Fatalf("ContainerWait: %v", err)
		}

		logs, err := c.api.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
		if err != nil {
			t.Fatalf("ContainerLogs: %v", err)
		}
		defer logs.Close()
		var stdout, stderr bytes.Buffer
		// Without a TTY the log stream is multiplexed; stdcopy splits it.
		if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil {
			t.Fatalf("reading logs: %v", err)
		}
		if got := stdout.String(); got != "hi\n" {
			t.Errorf("stdout = %q, want %q (stderr %q)", got, "hi\n", stderr.String())
		}
	})
}
