package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

// berth runs the binary against d and returns its output and exit code.
func (d *daemon) berth(args ...string) (string, int) {
	cmd := exec.Command(filepath.Join(binDir, "berth"), args...)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}

func mustStart(t *testing.T, dataDir string) *daemon {
	t.Helper()
	d, err := startDaemon(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(syscall.SIGKILL) })
	return d
}

func TestParallelCreateOfOneNameCreatesItOnce(t *testing.T) {
	t.Parallel()
	d := mustStart(t, shortTempDir(t))
	const n = 20
	codes := make([]int, n)
	outs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { outs[i], codes[i] = d.berth("apps:create", "same") })
	}
	wg.Wait()
	ok := 0
	for i := range n {
		switch {
		case codes[i] == 0:
			ok++
		case codes[i] == 1 && strings.Contains(outs[i], "Name is already taken"):
		default:
			t.Errorf("create %d: exit %d: %s", i, codes[i], outs[i])
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d parallel creates succeeded, want exactly 1", ok, n)
	}
	out, _ := d.berth("apps:list", "--format", "json")
	if strings.TrimSpace(out) != `["same"]` {
		t.Fatalf("apps:list = %s, want [\"same\"]", out)
	}
}

func TestParallelConfigSetLosesNoKey(t *testing.T) {
	t.Parallel()
	d := mustStart(t, shortTempDir(t))
	if out, code := d.berth("apps:create", "shop"); code != 0 {
		t.Fatal(out)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if out, code := d.berth("config:set", "--no-restart", "shop", fmt.Sprintf("K%02d=v%d", i, i)); code != 0 {
				t.Errorf("config:set K%02d: exit %d: %s", i, code, out)
			}
		})
	}
	wg.Wait()
	out, _ := d.berth("config:export", "--format", "json", "shop")
	for i := range n {
		if want := fmt.Sprintf(`"K%02d":"v%d"`, i, i); !strings.Contains(out, want) {
			t.Errorf("config lost %s: %s", want, out)
		}
	}
}

// TestKilledDaemonKeepsAcknowledgedConfig SIGKILLs the daemon while writers
// stream config:set calls; after a restart every acknowledged value is there
// and the database passes SQLite's integrity check.
func TestKilledDaemonKeepsAcknowledgedConfig(t *testing.T) {
	t.Parallel()
	dir := shortTempDir(t)
	d := mustStart(t, dir)
	if out, code := d.berth("apps:create", "shop"); code != 0 {
		t.Fatal(out)
	}
	const writers = 4
	var mu sync.Mutex
	acked := map[string]string{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				key, val := fmt.Sprintf("W%d_%d", w, i), fmt.Sprintf("value %d of writer %d", i, w)
				if _, code := d.berth("config:set", "--no-restart", "shop", key+"="+val); code == 0 {
					mu.Lock()
					acked[key] = val
					mu.Unlock()
				}
			}
		})
	}
	// Kill once a good number of writes went through.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatalf("only %d writes acknowledged in 30s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := d.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // writers now fail: not running
	cancel()
	wg.Wait()

	d2 := mustStart(t, dir)
	out, code := d2.berth("config:export", "--format", "json", "shop")
	if code != 0 {
		t.Fatal(out)
	}
	for k, v := range acked {
		if !strings.Contains(out, fmt.Sprintf("%q:%q", k, v)) {
			t.Errorf("acknowledged %s=%q lost after SIGKILL", k, v)
		}
	}
	t.Logf("%d acknowledged writes survived the kill", len(acked))
	if err := d2.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CheckIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
}
