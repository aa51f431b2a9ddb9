// Package metrics is what the daemon knows of its apps' traffic and
// resource use: it samples the proxy's request counters (by app and
// release) and its apps' containers' CPU and memory, keeps a point per
// app per sample for 24 h in memory, and shows them as Prometheus text
// (Handler, for /metrics) and as the operation metrics.app (berth
// metrics APP, the dashboard).
//
// Memory is bounded: an app's series is a ring of at most Retention /
// Interval points of 28 bytes (8,640 at the defaults: 242 KB), grown as
// points come; with 20 apps, 4.8 MB at most, plus a few hundred bytes
// per release counted (the proxy keeps the live release and 3 before
// it) and per container. An app seen neither in the proxy nor on the
// engine for Retention is forgotten.
package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/proxy"
)

// Proxy reads the proxy's request counters (a *proxy.Client).
type Proxy interface {
	Metrics(ctx context.Context) (proxy.Snapshot, error)
}

// Nodes lists the proxies of a cluster's other nodes, by node address
// (the daemon fills it from routing's peers): a request answered by any
// node's proxy counts for its app.
type Nodes interface {
	NodeProxies(ctx context.Context) (map[string]Proxy, error)
}

// Container is a running container of an app.
type Container struct {
	App  string
	ID   string
	Name string
}

// Engine lists the apps' running containers and samples one (filled by
// the daemon with the Docker client and Berth's labels).
type Engine interface {
	AppContainers(ctx context.Context) ([]Container, error)
	Stats(ctx context.Context, id string) (docker.ContainerStats, error)
}

// Apps checks that an app exists, with the API's error when it does not.
type Apps interface {
	Check(ctx context.Context, app string) error
}

// Defaults of Config.
const (
	DefaultInterval  = 10 * time.Second
	DefaultRetention = 24 * time.Hour
)

// Config is what a Collector samples and how often.
type Config struct {
	Proxy  Proxy  // nil: no request counters (no proxy)
	Nodes  Nodes  // nil: this node's proxy only (no cluster)
	Engine Engine // nil: no CPU and memory
	Apps   Apps   // nil: every app name is accepted (tests)
	// Interval is the time between samples of the proxy (default 10 s).
	Interval time.Duration
	// StatsInterval is the time between samples of the containers'
	// CPU and memory (default Interval); it is rounded up to a multiple
	// of Interval, as it is taken with a sample.
	StatsInterval time.Duration
	// Retention is how long points are kept (default 24 h).
	Retention time.Duration
	Log       *slog.Logger
	Now       func() time.Time // default time.Now
}

// Collector samples and keeps the metrics. Its methods are safe for
// concurrent use.
type Collector struct {
	cfg      Config
	capacity int // points per app

	mu        sync.Mutex
	apps      map[string]*appState
	sources   map[string]*source // by node address; "": this node's proxy
	proxyUp   bool               // the last read of this node's proxy worked
	last      time.Time          // the last sample; zero: none yet
	lastStats time.Time
}

// appState is what the Collector keeps of one app.
type appState struct {
	releases   map[int]*totals           // since the daemon started
	live       int                       // the release the proxy routes to
	ring       ring                      // one point per sample
	containers map[string]*containerStat // by ID, at the last stats sample
	present    time.Time                 // last seen in the proxy or on the engine
}

type containerStat struct {
	name     string
	cpuNanos uint64
	read     time.Time
	cpu      float64 // cores, over the last two samples
	mem      uint64
}

// New returns a collector; Run samples.
func New(cfg Config) *Collector {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = cfg.Interval
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// A point per interval over the retention, but never more than 24 h
	// at 10 s: a shorter interval keeps less time.
	capacity := min(int(cfg.Retention/cfg.Interval), int(DefaultRetention/DefaultInterval))
	return &Collector{cfg: cfg, capacity: max(capacity, 1), apps: map[string]*appState{}, sources: map[string]*source{}}
}

// Interval is the time between samples.
func (c *Collector) Interval() time.Duration { return c.cfg.Interval }

// Run samples every Interval until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, max(c.cfg.Interval, 5*time.Second))
		c.Sample(sctx)
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sample reads the proxies' counters (this node's, and in a cluster the
// other nodes') and, when due, the containers' CPU and memory, and adds
// a point to each app's series.
func (c *Collector) Sample(ctx context.Context) {
	snaps, localErr := c.readLocal(ctx)
	// The time of the sample is that of this node's counters: the rates
	// divide by the time between two reads, so nothing slower (listing
	// the nodes asks the engine) comes between them.
	now := c.cfg.Now()
	listed := c.readNodes(ctx, snaps)
	var stats map[string][]Container // by app; nil: not sampled this time
	var samples map[string]docker.ContainerStats
	c.mu.Lock()
	due := c.cfg.Engine != nil && (c.lastStats.IsZero() || now.Sub(c.lastStats) >= c.cfg.StatsInterval-c.cfg.Interval/2)
	c.mu.Unlock()
	if due {
		stats, samples = c.sampleEngine(ctx)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if stats != nil {
		c.lastStats = now
		c.applyStats(now, stats, samples)
	}
	dt := now.Sub(c.last).Seconds()
	first := c.last.IsZero()
	c.last = now
	c.proxyUp = c.cfg.Proxy != nil && localErr == nil
	got := c.countProxies(now, snaps, listed)
	for name, a := range c.apps {
		if now.Sub(a.present) > c.cfg.Retention {
			delete(c.apps, name)
			continue
		}
		if first || dt <= 0 {
			continue
		}
		p := point{t: unix(now)}
		if iv := got[name]; iv != nil {
			p.req = float32(float64(iv.req) / dt)
			p.err = float32(float64(iv.errs) / dt)
			p.p50 = float32(quantile(0.5, &iv.buckets))
			p.p95 = float32(quantile(0.95, &iv.buckets))
		}
		var mem uint64
		for _, cs := range a.containers {
			p.cpu += float32(cs.cpu)
			mem += cs.mem
		}
		p.mem = float32(mem)
		a.ring.push(p)
	}
}

// app returns the state of an app, made if need be. Called with mu held.
func (c *Collector) app(name string) *appState {
	a := c.apps[name]
	if a == nil {
		a = &appState{releases: map[int]*totals{}, ring: ring{max: c.capacity}, containers: map[string]*containerStat{}}
		c.apps[name] = a
	}
	return a
}

// sampleEngine lists the apps' running containers and samples each;
// nil when the engine cannot list them.
func (c *Collector) sampleEngine(ctx context.Context) (map[string][]Container, map[string]docker.ContainerStats) {
	cs, err := c.cfg.Engine.AppContainers(ctx)
	if err != nil {
		c.cfg.Log.Debug("metrics: list the apps' containers", "err", err)
		return nil, nil
	}
	byApp := map[string][]Container{}
	samples := map[string]docker.ContainerStats{}
	for _, ct := range cs {
		byApp[ct.App] = append(byApp[ct.App], ct)
		s, err := c.cfg.Engine.Stats(ctx, ct.ID)
		if err != nil {
			c.cfg.Log.Debug("metrics: container stats", "container", ct.Name, "err", err)
			continue
		}
		samples[ct.ID] = s
	}
	return byApp, samples
}

// applyStats keeps the containers' last samples, with a CPU rate from
// the one before. Called with mu held.
func (c *Collector) applyStats(now time.Time, byApp map[string][]Container, samples map[string]docker.ContainerStats) {
	for name, a := range c.apps {
		if _, ok := byApp[name]; !ok {
			clear(a.containers)
		}
	}
	for name, cs := range byApp {
		a := c.app(name)
		a.present = now
		kept := map[string]*containerStat{}
		for _, ct := range cs {
			s, ok := samples[ct.ID]
			if !ok {
				continue
			}
			st := &containerStat{name: ct.Name, cpuNanos: s.CPUNanos, read: s.Read, mem: s.MemoryBytes}
			if st.read.IsZero() {
				st.read = now
			}
			if prev := a.containers[ct.ID]; prev != nil {
				st.cpu = prev.cpu
				if dt := st.read.Sub(prev.read).Seconds(); dt > 0 && st.cpuNanos >= prev.cpuNanos {
					st.cpu = float64(st.cpuNanos-prev.cpuNanos) / 1e9 / dt
				}
			}
			kept[ct.ID] = st
		}
		a.containers = kept
	}
}
