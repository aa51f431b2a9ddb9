package notify

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Defaults of Config's zero values.
const (
	DefaultQueue      = 256
	DefaultAttempts   = 5
	DefaultRetryDelay = 2 * time.Second
	DefaultMaxDelay   = time.Minute
	DefaultTimeout    = 10 * time.Second
	DefaultWorkers    = 4
)

// Config is what a Manager is built with.
type Config struct {
	Store *store.Store
	Log   *slog.Logger
	// Host names this server in payloads ("" leaves it out).
	Host string
	// Client sends the requests (nil: one that follows no redirects).
	Client *http.Client
	// Queue bounds the events waiting for delivery; Workers the
	// deliveries at once; Attempts the tries of each delivery, RetryDelay
	// the wait before the second (doubled after each, up to MaxDelay);
	// Timeout bounds each try. Zero values are the defaults above.
	Queue, Workers, Attempts int
	RetryDelay, MaxDelay     time.Duration
	Timeout                  time.Duration
	// Now is the clock (nil: time.Now); Sleep waits between tries (nil: a
	// timer; false when ctx ended).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) bool
}

// Manager keeps the targets and delivers events to them.
type Manager struct {
	store   *store.Store
	log     *slog.Logger
	host    string
	client  *http.Client
	timeout time.Duration
	retry   policy
	workers int
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) bool

	queue   chan Event
	dropped atomic.Int64

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a Manager; Start delivers what Notify queues.
func New(c Config) *Manager {
	m := &Manager{store: c.Store, log: c.Log, host: c.Host, client: c.Client, timeout: c.Timeout, workers: c.Workers,
		retry: policy{attempts: c.Attempts, delay: c.RetryDelay, maxDelay: c.MaxDelay}, now: c.Now, sleep: c.Sleep}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.client == nil {
		m.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if m.timeout <= 0 {
		m.timeout = DefaultTimeout
	}
	if m.workers <= 0 {
		m.workers = DefaultWorkers
	}
	if m.retry.attempts <= 0 {
		m.retry.attempts = DefaultAttempts
	}
	if m.retry.delay <= 0 {
		m.retry.delay = DefaultRetryDelay
	}
	if m.retry.maxDelay <= 0 {
		m.retry.maxDelay = max(DefaultMaxDelay, m.retry.delay)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.sleep == nil {
		m.sleep = sleepCtx
	}
	q := c.Queue
	if q <= 0 {
		q = DefaultQueue
	}
	m.queue = make(chan Event, q)
	return m
}

// Notify queues ev for delivery and returns at once: when the queue is
// full the event is dropped (logged and counted in Dropped). A nil
// Manager drops everything.
func (m *Manager) Notify(ev Event) {
	if m == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = m.now()
	}
	select {
	case m.queue <- ev:
	default:
		m.dropped.Add(1)
		m.log.Warn("notification dropped: the queue is full", "event", ev.Kind, "app", ev.App)
	}
}

// Dropped is how many events were dropped since the start because the
// queue was full.
func (m *Manager) Dropped() int64 { return m.dropped.Load() }

// Start delivers queued events in the background until ctx ends or Stop.
func (m *Manager) Start(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	go m.run(ctx, m.done)
}

// Stop ends the deliveries: those in flight are cancelled and waited for
// until ctx ends; events still queued are dropped.
func (m *Manager) Stop(ctx context.Context) {
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// run hands each event to at most Workers deliveries at once; while they
// are all busy, events wait in the queue.
func (m *Manager) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, m.workers)
	for {
		var ev Event
		select {
		case <-ctx.Done():
			return
		case ev = <-m.queue:
		}
		var targets []store.NotificationTarget
		err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { targets, err = tx.NotificationTargets(); return err })
		if err != nil {
			m.log.Warn("notification not sent: read the targets", "event", ev.Kind, "err", err)
			continue
		}
		for _, t := range targets {
			if !wants(t.Events, t.App, ev) {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-slots }()
				r := m.deliver(ctx, t, ev, m.retry)
				if ctx.Err() != nil && r.Error != "" {
					// Cut short by the daemon's stop: not the receiver's failure.
					m.log.Info("notification not delivered: the daemon is stopping", "target", t.Name, "event", ev.Kind)
					return
				}
				m.record(ctx, t, r)
			})
		}
	}
}

// record keeps a delivery's outcome on its target, and logs a failure
// (with the target's name: its URL may hold a secret).
func (m *Manager) record(ctx context.Context, t store.NotificationTarget, r store.DeliveryResult) {
	if r.Error != "" {
		m.log.Warn("notification not delivered", "target", t.Name, "event", r.Event, "tries", r.Tries, "err", r.Error)
	}
	err := m.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error { return tx.SetNotificationResult(t.ID, r) })
	if err != nil {
		m.log.Warn("record a notification's delivery", "target", t.Name, "err", err)
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Add checks and stores a target. Bad input changes nothing.
func (m *Manager) Add(ctx context.Context, req api.NotificationAddRequest) error {
	if !nameRE.MatchString(req.Name) {
		return app.Invalidf("Invalid target name %q: use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", req.Name)
	}
	if err := checkURL(req.URL); err != nil {
		return err
	}
	format := req.Format
	if format == "" {
		format = FormatJSON
	}
	if _, err := Payload(format, "", Event{}); err != nil {
		return app.Invalidf("Invalid format %q: use json, slack or discord", req.Format)
	}
	events, err := ParseEvents(req.Events)
	if err != nil {
		return app.Invalidf("Invalid --events: %v", err)
	}
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.AddNotificationTarget(store.NotificationTarget{Name: req.Name, URL: req.URL, Format: format, Events: events, App: req.App, CreatedAt: m.now()})
		return err
	})
	switch {
	case errors.Is(err, store.ErrAppNotFound):
		return api.AppNotFound(req.App)
	case errors.Is(err, store.ErrNotificationTargetExists):
		return app.Errorf(app.ErrConflict, "A notification target named %s exists; remove it first (notifications:remove %s)", req.Name, req.Name)
	}
	return err
}

// checkURL accepts absolute http and https URLs with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		return app.Invalidf("Invalid URL %q: give the webhook's http:// or https:// URL", s)
	}
	return nil
}

// Remove deletes a target.
func (m *Manager) Remove(ctx context.Context, name string) error {
	err := m.store.Tx(ctx, func(tx *store.Tx) error { return tx.RemoveNotificationTarget(name) })
	if errors.Is(err, store.ErrNotificationTargetNotFound) {
		return notFound(name)
	}
	return err
}

func notFound(name string) error {
	return app.Errorf(app.ErrNotFound, "No notification target named %s; see notifications:list", name)
}

// List returns every target with its last delivery.
func (m *Manager) List(ctx context.Context) ([]store.NotificationTarget, error) {
	var ts []store.NotificationTarget
	err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { ts, err = tx.NotificationTargets(); return err })
	return ts, err
}

// Test sends a test event to the named target now, once (no retries), and
// returns and records the outcome.
func (m *Manager) Test(ctx context.Context, name string) (store.DeliveryResult, error) {
	var t store.NotificationTarget
	err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { t, err = tx.NotificationTarget(name); return err })
	if errors.Is(err, store.ErrNotificationTargetNotFound) {
		return store.DeliveryResult{}, notFound(name)
	}
	if err != nil {
		return store.DeliveryResult{}, err
	}
	ev := Event{Kind: Test, App: t.App, Message: "a test notification from Berth (notifications:test " + name + ")", Time: m.now(),
		Details: map[string]string{"target": name}}
	r := m.deliver(ctx, t, ev, policy{attempts: 1})
	m.record(ctx, t, r)
	return r, nil
}
