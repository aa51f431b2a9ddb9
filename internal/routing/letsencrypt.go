package routing

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/store"
)

// registerLE adds the letsencrypt:* operations to mux.
func (m *Manager) registerLE(mux *api.Mux) {
	api.Handle(mux, api.LEEnable, m.forApps(func(ctx context.Context, appName string, out io.Writer) error {
		say := func(f string, args ...any) { fmt.Fprintf(out, "-----> "+f+"\n", args...) }
		if err := m.obtain(ctx, appName, say); err != nil {
			return err
		}
		return m.setLEEnabled(ctx, appName, true)
	}))
	api.Handle(mux, api.LEDisable, m.leDisable)
	api.Handle(mux, api.LEList, m.leList)
	api.Handle(mux, api.LEAutoRenew, func(ctx context.Context, req api.AppRef, _ api.Output) (api.Empty, error) {
		return api.Empty{}, m.renewAll(ctx, req.App, true)
	})
	api.Handle(mux, api.LECronJob, func(ctx context.Context, req api.CronJob, _ api.Output) (api.CronStatus, error) {
		if req.Show {
			var st api.CronStatus
			err := m.store.Tx(ctx, func(tx *store.Tx) error {
				v, set, err := tx.Property(store.Global, "letsencrypt", "auto-renew")
				st.Enabled = !set || v != "false"
				return err
			})
			return st, err
		}
		err := m.store.Tx(ctx, func(tx *store.Tx) error {
			if req.Add {
				return tx.UnsetProperty(store.Global, "letsencrypt", "auto-renew")
			}
			return tx.SetProperty(store.Global, "letsencrypt", "auto-renew", "false")
		})
		return api.CronStatus{Enabled: req.Add}, err
	})
	api.Handle(mux, api.LERevoke, m.leRevoke)
}

func (m *Manager) setLEEnabled(ctx context.Context, appName string, on bool) error {
	return m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		if on {
			return tx.SetProperty(a.Scope(), "letsencrypt", "enabled", "true")
		}
		return tx.UnsetProperty(a.Scope(), "letsencrypt", "enabled")
	})
}

// leDisable stops renewals and removes the Let's Encrypt certificate (a
// custom one stays).
func (m *Manager) leDisable(ctx context.Context, req api.AppRef, _ api.Output) (api.Empty, error) {
	if err := m.setLEEnabled(ctx, req.App, false); err != nil {
		return api.Empty{}, err
	}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		if c, err := tx.Cert(a); err == nil && c.Source == "letsencrypt" {
			return tx.RemoveCert(a)
		}
		return nil
	})
	m.Notify(ctx, req.App)
	return api.Empty{}, err
}

func (m *Manager) leList(ctx context.Context, _ api.Empty, _ api.Output) (api.LEListResult, error) {
	res := api.LEListResult{Apps: []api.LEEntry{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		for _, a := range apps {
			set, err := leSettingsOf(tx, a)
			if err != nil || !set.enabled {
				continue
			}
			e := api.LEEntry{App: a.Name, Domains: []string{}}
			if c, err := tx.Cert(a); err == nil {
				e.Domains, e.Expires, e.LastError = c.Domains, c.NotAfter, c.LastError
				e.NextRenewal, e.Active = c.NotAfter.Add(-set.grace), c.Source == "letsencrypt"
			}
			res.Apps = append(res.Apps, e)
		}
		return nil
	})
	return res, err
}

// leRevoke revokes the app's Let's Encrypt certificate at its ACME server,
// then disables Let's Encrypt for the app.
func (m *Manager) leRevoke(ctx context.Context, req api.AppRef, out api.Output) (api.Empty, error) {
	var c store.Cert
	var set leSettings
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		if c, err = tx.Cert(a); err != nil || c.Source != "letsencrypt" {
			return api.Errorf(api.CodeNotFound, "%s has no Let's Encrypt certificate", req.App)
		}
		set, err = leSettingsOf(tx, a)
		return err
	})
	if err != nil {
		return api.Empty{}, err
	}
	client, err := m.acme.client(set.directory)
	if err != nil {
		return api.Empty{}, err
	}
	blk, _ := pem.Decode([]byte(c.CertPEM))
	if blk == nil {
		return api.Empty{}, api.Errorf(api.CodeInternal, "the stored certificate is not PEM")
	}
	if err := client.RevokeCert(ctx, nil, blk.Bytes, acme.CRLReasonUnspecified); err != nil {
		return api.Empty{}, api.Errorf(api.CodeUnavailable, "Could not revoke: %v", firstLine(err.Error()))
	}
	return m.leDisable(ctx, req, out)
}

// busy reports whether a certificate of app is being obtained.
func (m *Manager) busy(app string) bool {
	_, ok := m.obtaining.Load(app)
	return ok
}

// obtain gets a certificate for appName's domains and redirect sources and
// installs it. Nothing is replaced unless a new certificate was issued.
func (m *Manager) obtain(ctx context.Context, appName string, out func(string, ...any)) error {
	m.obtaining.Store(appName, true)
	defer m.obtaining.Delete(appName)
	m.orderMu.Lock()
	defer m.orderMu.Unlock()
	var set leSettings
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		set, err = leSettingsOf(tx, a)
		return err
	})
	if err != nil {
		return err
	}
	if set.email == "" {
		return api.Errorf(api.CodeInvalid, "Cannot request a certificate without an e-mail address! Set one with letsencrypt:set --global email you@example.com")
	}
	hosts, err := m.certHosts(ctx, appName)
	if err != nil {
		return err
	}
	hosts = slices.DeleteFunc(hosts, func(h string) bool { return strings.HasPrefix(h, "*.") })
	if len(hosts) == 0 {
		return api.Errorf(api.CodeInvalid, "%s has no domain to get a certificate for; add one with domains:add %s DOMAIN", appName, appName)
	}
	if m.proxy == nil {
		return api.Errorf(api.CodeUnavailable, "Let's Encrypt needs the proxy (BERTH_HTTP_ADDR is off)")
	}
	out("Getting a certificate for %s from %s", strings.Join(hosts, ", "), set.directory)
	certPEM, keyPEM, orderErr := m.acme.order(ctx, set, hosts)
	if orderErr != nil {
		// The old certificate keeps serving; the error is shown by
		// letsencrypt:list.
		m.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
			a, err := tx.App(appName)
			if err != nil {
				return err
			}
			return tx.SetCertError(a, firstLine(orderErr.Error()), m.now())
		})
		m.log.Warn("certificate request failed", "app", appName, "err", orderErr)
		return api.Errorf(api.CodeUnavailable, "Could not get a certificate for %s: %v", appName, firstLine(orderErr.Error()))
	}
	leaf, err := parseCertPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	_, err = m.installCert(ctx, appName, certOf("letsencrypt", certPEM, keyPEM, leaf, m.now()))
	if err == nil {
		out("Certificate installed: expires %s", leaf.NotAfter.UTC().Format("2006-01-02"))
	}
	return err
}

// retryAfterFailure is how long renewals wait after a failed order.
const retryAfterFailure = time.Hour

// dueByCert decides from an app's certificate alone whether it must be
// (re)obtained: not yet after a recent failure (unless forced: backoff),
// and yes when it is not from Let's Encrypt or is within the grace period.
// decided is false when the answer depends on the hosts it covers.
func dueByCert(c store.Cert, grace time.Duration, now time.Time, force bool) (due, decided bool) {
	if !force && c.LastError != "" && now.Sub(c.LastTryAt) < retryAfterFailure {
		return false, true
	}
	if c.Source != "letsencrypt" || now.Add(grace).After(c.NotAfter) {
		return true, true
	}
	return false, false
}

// covers reports whether a certificate names every host that is not a
// wildcard (Let's Encrypt certificates are for exact names here).
func covers(c store.Cert, hosts []string) bool {
	for _, h := range hosts {
		if !strings.HasPrefix(h, "*.") && !slices.Contains(c.Domains, h) {
			return false
		}
	}
	return true
}

// due reports whether an app's certificate must be (re)obtained: none yet,
// within the grace period, or not covering every host. After a failure it
// waits an hour before trying again (backoff).
func (m *Manager) due(ctx context.Context, a store.App, set leSettings, force bool) bool {
	var c store.Cert
	err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { c, err = tx.Cert(a); return err })
	if err != nil {
		return errors.Is(err, store.ErrNoCert)
	}
	if due, decided := dueByCert(c, set.grace, m.now(), force); decided {
		return due
	}
	hosts, err := m.certHosts(ctx, a.Name)
	if err != nil {
		return false
	}
	return !covers(c, hosts)
}

// renewAll obtains what is due for every enabled app (or only one); force
// skips the backoff after a failure (letsencrypt:auto-renew).
func (m *Manager) renewAll(ctx context.Context, only string, force bool) error {
	var apps []store.App
	err := m.store.Tx(ctx, func(tx *store.Tx) (err error) {
		if only == "" {
			apps, err = tx.Apps()
			return err
		}
		// One app (after each route change): read it alone, not every app.
		a, err := tx.App(only)
		if errors.Is(err, store.ErrAppNotFound) {
			return nil
		}
		apps = []store.App{a}
		return err
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range apps {
		var set leSettings
		m.store.Tx(ctx, func(tx *store.Tx) (err error) { set, err = leSettingsOf(tx, a); return err })
		if !set.enabled || !m.due(ctx, a, set, force) {
			continue
		}
		if err := m.obtain(ctx, a.Name, func(string, ...any) {}); err != nil {
			errs = append(errs, err)
			if m.renewalFailed != nil && ctx.Err() == nil {
				m.renewalFailed(a.Name, err)
			}
		}
	}
	return errors.Join(errs...)
}

// StartRenewals renews certificates in the background (no cron): every
// RenewEvery, unless letsencrypt:cron-job --remove turned it off, until
// ctx ends or StopRenewals. Without a proxy there is nothing to renew.
func (m *Manager) StartRenewals(ctx context.Context) {
	m.renewMu.Lock()
	defer m.renewMu.Unlock()
	if m.proxy == nil || m.renewStop != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	m.renewStop, m.renewDone = cancel, done
	go func() {
		defer close(done)
		m.renewLoop(ctx)
	}()
}

// StopRenewals stops the background renewals and waits for an order in
// flight to give up.
func (m *Manager) StopRenewals() {
	m.renewMu.Lock()
	stop, done := m.renewStop, m.renewDone
	m.renewMu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-done
}

func (m *Manager) renewLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(m.renewEvery):
		}
		var auto string
		m.store.Tx(ctx, func(tx *store.Tx) error {
			auto, _, _ = tx.Property(store.Global, "letsencrypt", "auto-renew")
			return nil
		})
		if auto == "false" {
			continue
		}
		if err := m.renewAll(ctx, "", false); err != nil {
			m.log.Warn("certificate renewal", "err", err)
		}
	}
}
