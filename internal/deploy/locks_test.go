package deploy

import (
	"context"
	"testing"
	"time"
)

// TestLockReleaseTwice: a lock's release may be called again (apps:rename
// lets the new name go before its rebuild, then its defer runs); the second
// call neither panics nor lets go of a lock taken since by someone else.
func TestLockReleaseTwice(t *testing.T) {
	t.Parallel()
	var l locks
	unlock, err := l.acquire(context.Background(), "shop", "apps:rename", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	later, err := l.acquire(context.Background(), "shop", "a push", time.Now)
	if err != nil {
		t.Fatalf("after the release: %v", err)
	}
	unlock() // the defer: must not panic, must not release "a push"
	if _, err := l.acquire(context.Background(), "shop", "another push", time.Now); err == nil {
		t.Fatal("the second release let go of a lock held by a push")
	}
	later()
}
