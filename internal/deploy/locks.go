package deploy

// An app's deploy lock: one deploy (or rename, destroy, scale, ps:stop,
// restore) of an app at a time; a deploy's watch lets go when asked.

import (
	"context"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/app"
)

// locks is the table of apps being deployed.
type locks struct {
	mu   sync.Mutex
	held map[string]lockInfo
}

type lockInfo struct {
	holder string
	since  time.Time
	// released is closed when the lock is let go.
	released chan struct{}
	// preempt, when set, asks the holder to let go soon (a deploy's watch
	// after its switch: see watch.go); acquire calls it and waits.
	preempt func()
}

// setPreempt lets a holder of name's lock be asked to let go (see
// lockInfo.preempt).
func (l *locks) setPreempt(name string, fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.held[name]; ok {
		h.preempt = fn
		l.held[name] = h
	}
}

// acquire takes app's deploy lock for holder or says who holds it. A lock
// held by a restore (the daemon's start, the engine coming back) is waited
// for, up to ctx: a command typed just after a reboot runs once its app is
// back, rather than failing on Berth's own housekeeping.
func (l *locks) acquire(ctx context.Context, name, holder string, now func() time.Time) (func(), error) {
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[string]lockInfo{}
		}
		h, busy := l.held[name]
		if !busy {
			info := lockInfo{holder: holder, since: now(), released: make(chan struct{})}
			l.held[name] = info
			l.mu.Unlock()
			// The release may be called more than once (apps:rename lets
			// the new name go before its rebuild, and again on return).
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.held, name)
					l.mu.Unlock()
					close(info.released)
				})
			}, nil
		}
		l.mu.Unlock()
		if h.preempt != nil {
			h.preempt()
		} else if h.holder != restoreHolder || holder == restoreHolder {
			return nil, app.Errorf(app.ErrLocked, "%s is being deployed by %s since %s; wait for it to finish", name, h.holder, h.since.UTC().Format(time.RFC3339))
		}
		select {
		case <-h.released:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Lock takes app's deploy lock for an operation other than a deploy (destroy,
// rename), so it cannot run in the middle of one.
func (d *Deployer) Lock(ctx context.Context, name, holder string) (func(), error) {
	return d.locks.acquire(ctx, name, holder, d.now)
}
