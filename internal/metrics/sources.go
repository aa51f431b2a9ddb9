package metrics

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/proxy"
)

// A source is one proxy whose counters the collector reads: this node's
// ("") or, in a cluster, another node's. Each counts from its own start,
// so each keeps its own epoch and last counts to subtract: a node's
// proxy restarting resets its counters and nobody else's.
type source struct {
	epoch string // of the counters last read; "": never read
	seen  map[appRelease]proxy.AppMetrics
}

type appRelease struct {
	app     string
	release int
}

// interval is one app's requests since the last sample, over every source.
type interval struct {
	req, errs uint64
	buckets   [numBuckets]uint64
}

// nodeReadTimeout bounds the read of another node's counters: a node
// that does not answer costs a sample no more than that.
const nodeReadTimeout = 3 * time.Second

// readLocal reads this node's proxy: the snapshot by source ("" when
// read) and its error.
func (c *Collector) readLocal(ctx context.Context) (map[string]proxy.Snapshot, error) {
	snaps := map[string]proxy.Snapshot{}
	if c.cfg.Proxy == nil {
		return snaps, nil
	}
	snap, err := c.cfg.Proxy.Metrics(ctx)
	if err != nil {
		c.cfg.Log.Debug("metrics: read the proxy's counters", "err", err)
		return snaps, err
	}
	snaps[""] = snap
	return snaps, nil
}

// readNodes reads the other nodes' proxies (in parallel) into snaps, and
// returns the nodes listed (nil: the list failed or there is no cluster,
// and no source is forgotten).
func (c *Collector) readNodes(ctx context.Context, snaps map[string]proxy.Snapshot) map[string]bool {
	if c.cfg.Nodes == nil {
		return nil
	}
	nodes, err := c.cfg.Nodes.NodeProxies(ctx)
	if err != nil {
		c.cfg.Log.Debug("metrics: list the nodes' proxies", "err", err)
		return nil
	}
	listed := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for addr, p := range nodes {
		listed[addr] = true
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, nodeReadTimeout)
			defer cancel()
			snap, err := p.Metrics(rctx)
			if err != nil {
				c.cfg.Log.Debug("metrics: read a node's proxy counters", "node", addr, "err", err)
				return
			}
			mu.Lock()
			snaps[addr] = snap
			mu.Unlock()
		})
	}
	wg.Wait()
	return listed
}

// countProxies adds what each source counted since its last read to the
// apps' totals and returns this interval's requests by app. Called with
// mu held.
func (c *Collector) countProxies(now time.Time, snaps map[string]proxy.Snapshot, listed map[string]bool) map[string]*interval {
	if listed != nil {
		for name := range c.sources {
			if name != "" && !listed[name] {
				delete(c.sources, name) // a node that left the cluster
			}
		}
	}
	got := map[string]*interval{}
	for name, snap := range snaps {
		c.countSource(now, name, snap, got)
	}
	if local, ok := snaps[""]; ok {
		live := map[string]int{}
		for _, m := range local.Apps {
			if m.Live {
				live[m.App] = m.Release
			}
		}
		// The release this node's proxy routes to is the app's live one
		// (every node's proxy holds the same routes).
		for name, a := range c.apps {
			a.live = live[name]
		}
	}
	if len(snaps) > 0 {
		for name, a := range c.apps {
			// Keep the totals of the releases a proxy counts, and the
			// keptReleases newest others: bounded, as the proxy's meters are.
			c.pruneReleases(name, a)
		}
	}
	return got
}

// countSource adds one source's snapshot. Called with mu held.
func (c *Collector) countSource(now time.Time, name string, snap proxy.Snapshot, got map[string]*interval) {
	src := c.sources[name]
	if src == nil {
		src = &source{seen: map[appRelease]proxy.AppMetrics{}}
		c.sources[name] = src
	}
	newEpoch := snap.Epoch != src.epoch
	firstRead := src.epoch == ""
	src.epoch = snap.Epoch
	in := map[appRelease]bool{}
	for _, m := range snap.Apps {
		a := c.app(m.App)
		a.present = now
		k := appRelease{m.App, m.Release}
		in[k] = true
		prev, ok := src.seen[k]
		if newEpoch {
			ok = false
		}
		src.seen[k] = m
		if !ok {
			prev = proxy.AppMetrics{Buckets: make([]uint64, len(m.Buckets))}
		}
		d := delta(prev, m)
		t := a.releases[m.Release]
		if t == nil {
			t = &totals{}
			a.releases[m.Release] = t
		}
		t.add(d)
		if firstRead { // counted before the daemon looked: not this interval's
			continue
		}
		iv := got[m.App]
		if iv == nil {
			iv = &interval{}
			got[m.App] = iv
		}
		iv.req += d.requests()
		iv.errs += d.status[4]
		for i := range d.buckets {
			iv.buckets[i] += d.buckets[i]
		}
	}
	// Releases the proxy dropped are no longer subtracted from.
	for k := range src.seen {
		if !in[k] {
			delete(src.seen, k)
		}
	}
}

// keptReleases is how many releases' totals an app keeps beyond those
// the proxies still count.
const keptReleases = 4

// pruneReleases drops the totals of an app's oldest releases that no
// proxy counts any more. Called with mu held.
func (c *Collector) pruneReleases(app string, a *appState) {
	if len(a.releases) <= keptReleases {
		return
	}
	var old []int
	for rel := range a.releases {
		if !c.counting(app, rel) {
			old = append(old, rel)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(old)))
	for _, rel := range old[min(len(old), keptReleases):] {
		delete(a.releases, rel)
	}
}

// counting reports whether a proxy still counts an app's release.
func (c *Collector) counting(app string, rel int) bool {
	for _, src := range c.sources {
		if _, ok := src.seen[appRelease{app, rel}]; ok {
			return true
		}
	}
	return false
}
