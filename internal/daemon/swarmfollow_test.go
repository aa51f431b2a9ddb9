package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// scriptedAddrs answers SwarmWebAddrs from a script, one step per call,
// repeating the last.
type scriptedAddrs struct {
	mu    sync.Mutex
	steps []func() (map[string][]string, error)
	calls int
}

func (s *scriptedAddrs) SwarmWebAddrs(context.Context) (map[string][]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.calls, len(s.steps)-1)
	s.calls++
	return s.steps[i]()
}

func (s *scriptedAddrs) done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls > len(s.steps)
}

type countingSyncer struct {
	mu     sync.Mutex
	synced []string
}

func (c *countingSyncer) Sync(_ context.Context, app string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.synced = append(c.synced, app)
	return nil
}

// The follower syncs an app when its tasks' addresses change, not when
// they stay; and after the tasks could not be listed (the manager's
// engine restarting, when the proxy's routes may have been emptied or
// rebuilt from a swarm not back yet) it syncs every app again even if the
// addresses are the same as before.
func TestFollowSwarmResyncsAfterAnOutage(t *testing.T) {
	a := map[string][]string{"shop": {"10.0.0.2:30001", "svc1"}}
	b := map[string][]string{"shop": {"10.0.0.3:30002", "svc1"}}
	ok := func(m map[string][]string) func() (map[string][]string, error) {
		return func() (map[string][]string, error) { return m, nil }
	}
	down := func() (map[string][]string, error) { return nil, errors.New("engine away") }
	src := &scriptedAddrs{steps: []func() (map[string][]string, error){
		ok(a), ok(a), // first seen: one sync; unchanged: none
		ok(b),      // moved: one sync
		down, down, // the engine away
		ok(b), ok(b), // back, same addresses: one sync, then none
		ok(nil), ok(b), // the swarm not back yet (no apps listed), then back: one sync
	}}
	rt := &countingSyncer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go followSwarm(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), src, rt, time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for !src.done() {
		if time.Now().After(deadline) {
			t.Fatal("the follower did not go through its script")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if want := []string{"shop", "shop", "shop", "shop"}; !slices.Equal(rt.synced, want) {
		t.Errorf("synced %v, want %v", rt.synced, want)
	}
}
