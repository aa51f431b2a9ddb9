// Package memtrim gives the memory a long-lived process freed back to the
// kernel once the process has been quiet for a while.
//
// Go's runtime returns freed heap to the kernel slowly, and keeps room for
// the heap to grow to twice what is live: after a burst of work (a deploy,
// a hundred route pushes) a daemon or proxy that then idles for hours
// keeps megabytes it no longer uses in its RSS. A Trimmer, touched by
// each piece of work, runs one garbage collection and returns what is free
// (debug.FreeOSMemory) when no work came for its quiet period: one
// collection per burst, none while busy, no timer while idle.
package memtrim

import (
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// Quiet is how long without work before the memory is trimmed.
const Quiet = 5 * time.Second

// Trimmer trims after a quiet period; the zero value is not usable: use
// New.
type Trimmer struct {
	mu    sync.Mutex
	quiet time.Duration
	timer *time.Timer
	trim  func()
}

// New returns a Trimmer that trims quiet after the last Touch.
func New(quiet time.Duration) *Trimmer {
	t := &Trimmer{quiet: quiet, trim: debug.FreeOSMemory}
	t.timer = time.AfterFunc(time.Hour, func() { t.trim() })
	t.timer.Stop()
	return t
}

// Touch says work happened now: the trim waits for another quiet period.
func (t *Trimmer) Touch() {
	t.mu.Lock()
	t.timer.Reset(t.quiet)
	t.mu.Unlock()
}

// Handler touches t after each request h serves.
func (t *Trimmer) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer t.Touch()
		h.ServeHTTP(w, r)
	})
}
