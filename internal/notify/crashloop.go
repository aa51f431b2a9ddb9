package notify

import (
	"sync"
	"time"
)

// Crash-loop detection defaults: a container that fails this many times
// within the window is in a crash loop.
const (
	CrashLoopExits  = 3
	CrashLoopWindow = 5 * time.Minute
)

// CrashLoops tells, from a process container's exits, when it is in a
// crash loop: Exits failures (a non-zero exit code, or killed by the OOM
// killer) of the same container within Window. A stop by Berth or the
// engine (SIGTERM's 143, SIGKILL's 137 without an OOM kill) is not a
// failure; a container the engine restarts (restart policy on-failure,
// Berth's default) keeps its ID, which is what is counted. Once a loop is
// reported, the count starts again, so a container that keeps failing is
// reported at most once per window.
type CrashLoops struct {
	Exits  int           // 0: CrashLoopExits
	Window time.Duration // 0: CrashLoopWindow

	mu    sync.Mutex
	fails map[string][]time.Time // container ID -> failures within the window
}

// Exited records an exit of a container and reports how many failures
// it counts within the window, and whether that makes a crash loop now.
func (c *CrashLoops) Exited(id string, code int, oomKilled bool, at time.Time) (int, bool) {
	if code == 0 || ((code == 137 || code == 143) && !oomKilled) {
		return 0, false
	}
	n, window := c.Exits, c.Window
	if n <= 0 {
		n = CrashLoopExits
	}
	if window <= 0 {
		window = CrashLoopWindow
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fails == nil {
		c.fails = map[string][]time.Time{}
	}
	// Forget what fell out of the window (every container's, so that
	// removed containers do not stay).
	for k, ts := range c.fails {
		i := 0
		for i < len(ts) && at.Sub(ts[i]) > window {
			i++
		}
		if i == len(ts) {
			delete(c.fails, k)
		} else {
			c.fails[k] = ts[i:]
		}
	}
	ts := append(c.fails[id], at)
	if len(ts) >= n {
		delete(c.fails, id)
		return len(ts), true
	}
	c.fails[id] = ts
	return len(ts), false
}

// Forget drops what is known of a container (it was removed).
func (c *CrashLoops) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.fails, id)
}
