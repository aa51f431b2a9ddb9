package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// prober checks one target's liveness in its own goroutine and keeps the
// verdict in healthy, which the load balancer reads. A target has at most
// one prober; a new one (changed settings) takes over the old verdict.
type prober struct {
	b         *backend
	app       string
	container string
	spec      Liveness // with defaults
	healthy   atomic.Bool
	cancel    context.CancelFunc
}

// probeKey says whether a running prober still matches what the table wants.
type probeKey struct {
	b         *backend
	app       string
	container string
	spec      Liveness
}

func (p *prober) key() probeKey { return probeKey{p.b, p.app, p.container, p.spec} }

// newProbeClient returns the client probes use: one connection per probe
// (a probe also checks that the target accepts connections), no proxy from
// the environment, redirects not followed (a 3xx answer is alive).
func newProbeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:              nil,
			DialContext:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			DisableKeepAlives:  true,
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// syncProbers starts and stops probers so that exactly the targets of t's
// routes with Liveness are probed. Called with s.mu held, after t is live.
func (s *server) syncProbers(t *table) {
	want := make(map[string]probeKey)
	for app, rt := range t.apps {
		l := t.config[app].Liveness
		if l == nil {
			continue
		}
		spec := l.withDefaults()
		for i, b := range rt.targets {
			if _, dup := want[b.addr]; !dup {
				want[b.addr] = probeKey{b, app, rt.containers[i], spec}
			}
		}
	}
	verdict := make(map[string]bool) // of stopped probers of targets still wanted
	for addr, p := range s.probers {
		k, ok := want[addr]
		if ok && k == p.key() {
			continue
		}
		delete(s.probers, addr)
		p.cancel()
		p.b.probe.CompareAndSwap(p, nil)
		if ok && k.b == p.b {
			verdict[addr] = p.healthy.Load() // same target, new settings
		}
	}
	for addr, k := range want {
		if _, ok := s.probers[addr]; !ok {
			healthy, seen := verdict[addr]
			s.startProber(k, healthy || !seen)
		}
	}
}

func (s *server) startProber(k probeKey, healthy bool) {
	ctx, cancel := context.WithCancel(s.baseCtx)
	p := &prober{b: k.b, app: k.app, container: k.container, spec: k.spec, cancel: cancel}
	p.healthy.Store(healthy)
	s.probers[k.b.addr] = p
	k.b.probe.Store(p)
	s.probeWG.Add(1)
	go func() {
		defer s.probeWG.Done()
		p.run(ctx, s.probeClient, s.log)
	}()
}

// stopProbers stops every prober and waits for them (shutdown).
func (s *server) stopProbers() {
	s.mu.Lock()
	for addr, p := range s.probers {
		p.cancel()
		delete(s.probers, addr)
	}
	s.mu.Unlock()
	s.probeWG.Wait()
}

func (p *prober) run(ctx context.Context, client *http.Client, log *slog.Logger) {
	tick := time.NewTicker(p.spec.Interval)
	defer tick.Stop()
	fails, oks := 0, 0
	for {
		err := p.check(ctx, client)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			fails, oks = 0, oks+1
			if oks >= p.spec.Successes && !p.healthy.Load() {
				p.healthy.Store(true)
				log.Info("target passes its liveness check again: back in rotation", "app", p.app, "container", p.container, "addr", p.b.addr)
			}
		} else {
			fails, oks = fails+1, 0
			if fails >= p.spec.Failures && p.healthy.Load() {
				p.healthy.Store(false)
				log.Warn("target failed its liveness check: out of rotation", "app", p.app, "container", p.container, "addr", p.b.addr, "failures", fails, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check probes the target once: GET Path on its address with the Host
// header of the spec; alive is a 2xx or 3xx answer holding Content.
func (p *prober) check(ctx context.Context, client *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, p.spec.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.b.addr+p.spec.Path, nil)
	if err != nil {
		return err
	}
	if p.spec.Host != "" {
		req.Host = p.spec.Host
	}
	req.Header.Set("User-Agent", "berth-proxy liveness check")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	if p.spec.Content != "" {
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		if !strings.Contains(string(body), p.spec.Content) {
			return fmt.Errorf("answer lacks the expected content")
		}
	}
	return nil
}
