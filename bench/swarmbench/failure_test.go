//go:build swarmbench

package swarmbench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/loadgen"
)

// failure is one node-failure run: how long until ps:report showed the
// failed node's tasks elsewhere, and the requests in three windows.
type failure struct {
	Moved time.Duration
	// Window: from the failure until the tasks moved. Follow: the next
	// 4 s (the daemon follows the swarm every 2 s). After: 5 s more.
	Window, Follow, After loadgen.Stats
}

// Load shape: steady, like the e2e tests (2 keep-alive + 2 fresh workers,
// 10 ms apart), with a 5 s client timeout so a black-holed request counts.
func startLoad(addr string) *loadgen.Run {
	return loadgen.Start(loadgen.Config{Addr: addr, Host: "shop.example", KeepAlive: 2, Fresh: 2, Interval: 10 * time.Millisecond, Timeout: 5 * time.Second})
}

// nodeFailure deploys web=4 on a fresh rig, starts load through node 1's
// proxy and fails node 3 (stop: its engine shut down; disconnect: its
// link to the cluster network down).
func nodeFailure(t *testing.T, how string) failure {
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	c := newCluster(t, ctx, 4)
	victim := c.rig.Nodes[2]
	on := func(addrs []string) int {
		n := 0
		for _, a := range addrs {
			if strings.HasPrefix(a, victim.Addr+":") {
				n++
			}
		}
		return n
	}
	if tasks := c.webTasks(); len(tasks) != 4 || on(tasks) == 0 {
		t.Fatalf("want web=4 with a task on node 3 (%s): %v", victim.Addr, tasks)
	}
	load := startLoad(c.b.ProxyAddr)
	defer load.Stop()
	time.Sleep(2 * time.Second)
	if st := load.Snapshot(); st.Failed() != 0 || st.Sent == 0 {
		t.Fatalf("before the failure: %s %v", st, st.Errors)
	}
	var err error
	switch how {
	case "stop":
		err = victim.Stop()
	case "disconnect":
		err = victim.Disconnect()
		defer victim.Reconnect()
	}
	if err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	var f failure
	for {
		if tasks := c.webTasks(); len(tasks) == 4 && on(tasks) == 0 {
			f.Moved = time.Since(lost)
			break
		}
		if time.Since(lost) > 120*time.Second {
			t.Fatalf("node 3's tasks did not move within 120 s (%s)\n--- daemon log:\n%s", how, c.b.Log())
		}
		time.Sleep(250 * time.Millisecond)
	}
	f.Window = load.Snapshot()
	time.Sleep(4 * time.Second)
	f.Follow = load.Snapshot()
	time.Sleep(5 * time.Second)
	f.After = load.Stop()
	t.Logf("%s: moved in %s; window %s %v; follow %s %v; after %s %v", how, f.Moved.Round(time.Millisecond),
		f.Window, f.Window.Errors, f.Follow, f.Follow.Errors, f.After, f.After.Errors)
	return f
}

func pct(failed, sent int) string {
	if sent == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(failed)/float64(sent))
}
