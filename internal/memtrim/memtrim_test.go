package memtrim

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// One trim per burst of work, a quiet period after its last touch; none
// without work.
func TestTrimsOnceAfterTheQuietPeriod(t *testing.T) {
	t.Parallel()
	tr := New(100 * time.Millisecond)
	var trims atomic.Int32
	tr.trim = func() { trims.Add(1) }
	time.Sleep(200 * time.Millisecond)
	if n := trims.Load(); n != 0 {
		t.Fatalf("%d trims without work", n)
	}
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	began := time.Now()
	for range 5 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		time.Sleep(40 * time.Millisecond)
	}
	if n := trims.Load(); n != 0 && time.Since(began) < 300*time.Millisecond {
		t.Fatalf("trimmed %d times while busy", n)
	}
	time.Sleep(400 * time.Millisecond)
	if n := trims.Load(); n != 1 {
		t.Fatalf("%d trims after a burst, want 1", n)
	}
}
