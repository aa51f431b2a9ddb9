package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var at = time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)

func sample() Event {
	return Event{Kind: DeployFailed, App: "shop", Release: 4, Message: "Deploy failed at step checks: <b> & co", Time: at,
		Details: map[string]string{"step": "checks", "by": "admin"}}
}

func TestPayloadFormats(t *testing.T) {
	t.Parallel()
	b, err := Payload(FormatJSON, "srv1", sample())
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	json.Unmarshal(b, &j)
	if j["event"] != "deploy-failed" || j["app"] != "shop" || j["release"] != 4.0 || j["time"] != "2026-12-07T05:00:00Z" ||
		j["message"] != "Deploy failed at step checks: <b> & co" || j["host"] != "srv1" || j["details"].(map[string]any)["step"] != "checks" {
		t.Errorf("json payload: %s", b)
	}

	b, _ = Payload(FormatSlack, "srv1", sample())
	var s struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string `json:"type"`
			Elements []struct{ Text string }
		} `json:"blocks"`
	}
	json.Unmarshal(b, &s)
	if s.Text != "[berth@srv1] deploy-failed shop (release 4): Deploy failed at step checks: &lt;b&gt; &amp; co" {
		t.Errorf("slack text: %q", s.Text)
	}
	if len(s.Blocks) != 2 || s.Blocks[0].Type != "section" || s.Blocks[1].Type != "context" || s.Blocks[1].Elements[0].Text != "by: admin" {
		t.Errorf("slack blocks: %s", b)
	}

	long := sample()
	long.Message = strings.Repeat("y", 5000)
	b, _ = Payload(FormatSlack, "", long)
	json.Unmarshal(b, &s)
	var blocks struct {
		Blocks []struct{ Text struct{ Text string } } `json:"blocks"`
	}
	json.Unmarshal(b, &blocks)
	if n := len([]rune(blocks.Blocks[0].Text.Text)); n != slackLimit {
		t.Errorf("slack section of a long message: %d characters, want %d", n, slackLimit)
	}

	ev := sample()
	ev.Message = strings.Repeat("x", 3000) + " @everyone"
	b, _ = Payload(FormatDiscord, "", ev)
	var d struct {
		Content         string `json:"content"`
		AllowedMentions struct {
			Parse []string `json:"parse"`
		} `json:"allowed_mentions"`
	}
	json.Unmarshal(b, &d)
	if n := len([]rune(d.Content)); n != discordLimit || !strings.HasPrefix(d.Content, "[berth] deploy-failed shop (release 4): xxx") {
		t.Errorf("discord content: %d runes, %q...", n, d.Content[:40])
	}
	if !strings.Contains(string(b), `"allowed_mentions":{"parse":[]}`) {
		t.Errorf("discord payload lets mentions through: %s", b[len(b)-60:])
	}
	if _, err := Payload("teams", "", ev); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestParseEventsAndWants(t *testing.T) {
	t.Parallel()
	if ev, err := ParseEvents(""); err != nil || ev != nil {
		t.Errorf(`"": %v %v`, ev, err)
	}
	if ev, err := ParseEvents("all"); err != nil || ev != nil {
		t.Errorf(`all: %v %v`, ev, err)
	}
	if ev, err := ParseEvents("deploy-failed, rollback,deploy-failed"); err != nil || strings.Join(ev, ",") != "deploy-failed,rollback" {
		t.Errorf("list: %v %v", ev, err)
	}
	if _, err := ParseEvents("deploy-failed,deploy-exploded"); err == nil || !strings.Contains(err.Error(), `"deploy-exploded"`) {
		t.Errorf("unknown event: %v", err)
	}
	e := Event{Kind: Rollback, App: "shop"}
	for _, c := range []struct {
		events []string
		app    string
		want   bool
	}{{nil, "", true}, {[]string{Rollback}, "", true}, {[]string{DeployFailed}, "", false}, {nil, "shop", true}, {nil, "blog", false}} {
		if got := wants(c.events, c.app, e); got != c.want {
			t.Errorf("wants(%v, %q) = %v", c.events, c.app, got)
		}
	}
}

func TestBackoffDoublesUpToTheBound(t *testing.T) {
	t.Parallel()
	p := policy{attempts: 6, delay: time.Second, maxDelay: 5 * time.Second}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, p.backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff: %v, want %v", got, want)
		}
	}
}

// receiver answers with the statuses given, in turn (then 200), and keeps
// the bodies it got.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	code := 200
	if len(r.statuses) > 0 {
		code, r.statuses = r.statuses[0], r.statuses[1:]
	}
	r.mu.Unlock()
	w.WriteHeader(code)
	if code >= 400 {
		io.WriteString(w, "nope\nsecond line")
	}
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// fakeSleep records the waits and does not wait.
type fakeSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (f *fakeSleep) sleep(ctx context.Context, d time.Duration) bool {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.mu.Unlock()
	return ctx.Err() == nil
}

func newManager(t *testing.T, st *store.Store, c Config) *Manager {
	c.Store = st
	if c.Now == nil {
		c.Now = func() time.Time { return at }
	}
	return New(c)
}

func mustAdd(t *testing.T, m *Manager, req api.NotificationAddRequest) {
	t.Helper()
	if err := m.Add(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

func TestDeliveryRetriesWithBackoffAndKeepsTheResult(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	rcv := &receiver{statuses: []int{500, 503}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	fs := &fakeSleep{}
	m := newManager(t, st, Config{RetryDelay: time.Second, MaxDelay: 10 * time.Second, Sleep: fs.sleep})
	mustAdd(t, m, api.NotificationAddRequest{Name: "ops", URL: srv.URL + "/hook"})
	r := m.deliver(context.Background(), target(t, m, "ops"), sample(), m.retry)
	if r.Error != "" || r.Status != 200 || r.Tries != 3 {
		t.Errorf("result: %+v", r)
	}
	if len(fs.waits) != 2 || fs.waits[0] != time.Second || fs.waits[1] != 2*time.Second {
		t.Errorf("waits: %v", fs.waits)
	}
	if n := len(rcv.got()); n != 3 {
		t.Errorf("receiver got %d requests", n)
	}

	// Every attempt fails: as many tries as allowed, the last error kept.
	rcv.statuses = []int{500, 500, 500, 500, 500, 500}
	m2 := newManager(t, st, Config{Attempts: 3, RetryDelay: time.Millisecond, Sleep: fs.sleep})
	r = m2.deliver(context.Background(), target(t, m, "ops"), sample(), m2.retry)
	if r.Error != "HTTP 500: nope" || r.Status != 500 || r.Tries != 3 {
		t.Errorf("failed result: %+v", r)
	}
	// Too many requests: the wait is the receiver's Retry-After when
	// longer than the backoff, bounded by the longest wait.
	rl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer rl.Close()
	fs.waits = nil
	m3 := newManager(t, st, Config{Attempts: 3, RetryDelay: time.Second, MaxDelay: 20 * time.Second, Sleep: fs.sleep})
	rt := target(t, m, "ops")
	rt.URL = rl.URL
	r = m3.deliver(context.Background(), rt, sample(), m3.retry)
	if r.Status != 429 || r.Tries != 3 || len(fs.waits) != 2 || fs.waits[0] != 20*time.Second || fs.waits[1] != 20*time.Second {
		t.Errorf("429 with Retry-After: %+v, waits %v", r, fs.waits)
	}
	// A client error is not retried.
	rcv.statuses = []int{404}
	r = m2.deliver(context.Background(), target(t, m, "ops"), sample(), m2.retry)
	if r.Tries != 1 || r.Status != 404 {
		t.Errorf("404 result: %+v", r)
	}
}

func target(t *testing.T, m *Manager, name string) store.NotificationTarget {
	t.Helper()
	var n store.NotificationTarget
	if err := m.store.Tx(context.Background(), func(tx *store.Tx) (err error) { n, err = tx.NotificationTarget(name); return err }); err != nil {
		t.Fatal(err)
	}
	return n
}

// An unreachable receiver's error names no URL: a webhook's URL is its
// secret, and errors reach logs and notifications:list.
func TestErrorsDoNotShowTheURL(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/secret"
	srv.Close()
	m := newManager(t, st, Config{Attempts: 1})
	mustAdd(t, m, api.NotificationAddRequest{Name: "gone", URL: url, Format: "slack"})
	r := m.deliver(context.Background(), target(t, m, "gone"), sample(), m.retry)
	if r.Error == "" || strings.Contains(r.Error, "secret") || r.Status != 0 {
		t.Errorf("result: %+v", r)
	}
}

func TestQueueIsBoundedAndNotifyNeverBlocks(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	m := newManager(t, st, Config{Queue: 2})
	done := make(chan struct{})
	go func() {
		for range 10 {
			m.Notify(sample()) // not started: nothing drains the queue
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked on a full queue")
	}
	if got := m.Dropped(); got != 8 {
		t.Errorf("dropped %d, want 8", got)
	}
	var nilM *Manager
	nilM.Notify(sample()) // a daemon without notifications
}

func TestBackgroundDeliveryFiltersAndRecords(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	st.Tx(ctx, func(tx *store.Tx) error { _, err := tx.CreateApp("shop", at); return err })
	all, onlyRollback, otherApp := &receiver{}, &receiver{}, &receiver{}
	for _, r := range []*receiver{all, onlyRollback, otherApp} {
		srv := httptest.NewServer(r)
		defer srv.Close()
		r.bodies = []string{srv.URL}
	}
	m := newManager(t, st, Config{RetryDelay: time.Millisecond})
	mustAdd(t, m, api.NotificationAddRequest{Name: "all", URL: all.got()[0], Format: "discord"})
	mustAdd(t, m, api.NotificationAddRequest{Name: "rb", URL: onlyRollback.got()[0], Events: "rollback"})
	mustAdd(t, m, api.NotificationAddRequest{Name: "shop", URL: otherApp.got()[0], App: "shop"})
	m.Start(ctx)
	defer m.Stop(ctx)
	m.Notify(sample())                                      // deploy-failed of shop
	m.Notify(Event{Kind: CrashLoop, App: "blog", Time: at}) // another app's
	deadline := time.Now().Add(5 * time.Second)
	for len(all.got()) < 3 || len(otherApp.got()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: all %d, shop %d", len(all.got()), len(otherApp.got()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(onlyRollback.got()); n != 1 {
		t.Errorf("the rollback-only target got %d deliveries", n-1)
	}
	if got := otherApp.got(); len(got) != 2 || !strings.Contains(got[1], `"app":"shop"`) {
		t.Errorf("the shop target got %v", got)
	}
	ts, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		if tg.Name == "rb" {
			if !tg.Last.At.IsZero() {
				t.Errorf("rb has a last delivery: %+v", tg.Last)
			}
			continue
		}
		if tg.Last.At.IsZero() || tg.Last.Error != "" || tg.Last.Status != 200 || tg.Last.Tries != 1 {
			t.Errorf("%s: last %+v", tg.Name, tg.Last)
		}
	}
}

func TestAddRefusesBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	m := newManager(t, st, Config{})
	mustAdd(t, m, api.NotificationAddRequest{Name: "ops", URL: "https://example.com/hook"})
	for _, c := range []struct {
		req  api.NotificationAddRequest
		kind error
		msg  string
	}{
		{api.NotificationAddRequest{Name: "x", URL: "ftp://example.com"}, app.ErrInvalid, `Invalid URL "ftp://example.com"`},
		{api.NotificationAddRequest{Name: "x", URL: "example.com/hook"}, app.ErrInvalid, "Invalid URL"},
		{api.NotificationAddRequest{Name: "x", URL: "https://"}, app.ErrInvalid, "Invalid URL"},
		{api.NotificationAddRequest{Name: "Bad Name", URL: "https://example.com"}, app.ErrInvalid, "Invalid target name"},
		{api.NotificationAddRequest{Name: "x", URL: "https://example.com", Format: "teams"}, app.ErrInvalid, `Invalid format "teams"`},
		{api.NotificationAddRequest{Name: "x", URL: "https://example.com", Events: "deploy-ok"}, app.ErrInvalid, `unknown event "deploy-ok"`},
		{api.NotificationAddRequest{Name: "ops", URL: "https://example.com"}, app.ErrConflict, "A notification target named ops exists"},
	} {
		err := m.Add(ctx, c.req)
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v", c.req, err)
		}
	}
	if err := m.Add(ctx, api.NotificationAddRequest{Name: "x", URL: "https://example.com", App: "nope"}); err == nil || !strings.Contains(err.Error(), "nope does not exist") {
		t.Errorf("missing app: %v", err)
	}
	ts, _ := m.List(ctx)
	if len(ts) != 1 || ts[0].URL != "https://example.com/hook" {
		t.Errorf("targets after refusals: %+v", ts)
	}
	if err := m.Remove(ctx, "nope"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("remove missing: %v", err)
	}
	if _, err := m.Test(ctx, "nope"); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("test missing: %v", err)
	}
	if err := m.Remove(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if ts, _ := m.List(ctx); len(ts) != 0 {
		t.Errorf("after remove: %+v", ts)
	}
}

func TestTestSendsOnceAndRecords(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(502)
	}))
	defer srv.Close()
	m := newManager(t, st, Config{RetryDelay: time.Millisecond})
	mustAdd(t, m, api.NotificationAddRequest{Name: "ops", URL: srv.URL, Events: "rollback"})
	r, err := m.Test(ctx, "ops")
	if err != nil || r.Error != "HTTP 502" || r.Tries != 1 || hits.Load() != 1 {
		t.Errorf("test: %+v %v (hits %d)", r, err, hits.Load())
	}
	if tg := target(t, m, "ops"); tg.Last.Event != Test || tg.Last.Status != 502 || tg.Last.Error != "HTTP 502" {
		t.Errorf("kept: %+v", tg.Last)
	}
}

func TestCrashLoops(t *testing.T) {
	t.Parallel()
	c := &CrashLoops{}
	t0 := at
	steps := []struct {
		id    string
		code  int
		oom   bool
		after time.Duration
		loop  bool
	}{
		{"a", 1, false, 0, false},
		{"a", 143, false, time.Second, false}, // stopped: not a failure
		{"a", 0, false, 2 * time.Second, false},
		{"b", 1, false, 3 * time.Second, false}, // another container
		{"a", 1, false, 4 * time.Second, false},
		{"a", 137, true, 5 * time.Second, true}, // OOM-killed: a failure; third within the window
		{"a", 1, false, 6 * time.Second, false}, // counting starts again
		{"b", 1, false, 6 * time.Minute, false}, // b's first fell out of the window
		{"b", 1, false, 7 * time.Minute, false},
		{"b", 1, false, 8 * time.Minute, true},
	}
	for i, s := range steps {
		if _, loop := c.Exited(s.id, s.code, s.oom, t0.Add(s.after)); loop != s.loop {
			t.Errorf("step %d (%s exit %d): loop %v", i, s.id, s.code, loop)
		}
	}
	if len(c.fails) != 0 {
		t.Errorf("kept: %v", c.fails)
	}
}

// A target of one app follows its renames and goes with it.
func TestAppTargetFollowsTheApp(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	var a store.App
	st.Tx(ctx, func(tx *store.Tx) (err error) { a, err = tx.CreateApp("shop", at); return err })
	m := newManager(t, st, Config{})
	mustAdd(t, m, api.NotificationAddRequest{Name: "shop", URL: "https://example.com", App: "shop"})
	st.Tx(ctx, func(tx *store.Tx) error { return tx.RenameApp(a, "store") })
	if ts, _ := m.List(ctx); len(ts) != 1 || ts[0].App != "store" {
		t.Fatalf("after a rename: %+v", ts)
	}
	if err := st.Tx(ctx, func(tx *store.Tx) error { return tx.DeleteApp(a) }); err != nil {
		t.Fatal(err)
	}
	if ts, _ := m.List(ctx); len(ts) != 0 {
		t.Errorf("after the app's destroy: %+v", ts)
	}
}
