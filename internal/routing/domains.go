package routing

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Where domains and ports live besides the domains table: properties.
const (
	domainsNS       = "domains"
	domainsGlobal   = "global"   // global scope: the global domains, space-separated
	domainsDisabled = "disabled" // app scope: "true" when domains:disable is in effect
	portsNS         = "ports"
	portsMap        = "map" // app scope: scheme:host:container maps, space-separated
)

// registerDomains adds the domains, urls and ports operations to mux.
func (m *Manager) registerDomains(mux *api.Mux) {
	api.Handle(mux, api.DomainsUpdate, m.domainsUpdate)
	api.Handle(mux, api.DomainsReportOp, m.domainsReport)
	api.Handle(mux, api.DomainsURLs, m.domainsURLs)
	api.Handle(mux, api.PortsUpdate, m.portsUpdate)
	api.Handle(mux, api.PortsReportOp, m.portsReport)
}

// globalDomains returns the global domains, in the order they were set.
func globalDomains(tx *store.Tx) ([]string, error) {
	v, _, err := tx.Property(store.Global, domainsNS, domainsGlobal)
	return strings.Fields(v), err
}

func setGlobalDomains(tx *store.Tx, ds []string) error {
	if len(ds) == 0 {
		return tx.UnsetProperty(store.Global, domainsNS, domainsGlobal)
	}
	return tx.SetProperty(store.Global, domainsNS, domainsGlobal, strings.Join(ds, " "))
}

func domainsEnabled(tx *store.Tx, a store.App) (bool, error) {
	v, _, err := tx.Property(a.Scope(), domainsNS, domainsDisabled)
	return v != "true", err
}

func setDomainsEnabled(tx *store.Tx, a store.App, enabled bool) error {
	if enabled {
		return tx.UnsetProperty(a.Scope(), domainsNS, domainsDisabled)
	}
	return tx.SetProperty(a.Scope(), domainsNS, domainsDisabled, "true")
}

// takenError turns a store's DomainTakenError into the API's conflict.
func takenError(err error) error {
	var te *store.DomainTakenError
	if errors.As(err, &te) {
		return api.Errorf(api.CodeConflict, "%s is already used by app %s", te.Domain, te.App)
	}
	return err
}

// normalizeDomains lower-cases names and, when validate is set, checks every
// one before anything is written.
func normalizeDomains(names []string, validate bool) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		for _, d := range app.ExpandDomain(n) {
			if validate {
				if err := app.ValidateDomain(d); err != nil {
					return nil, apierr.Invalid(err)
				}
			}
			out = append(out, app.NormalizeDomain(d))
		}
	}
	return out, nil
}

func (m *Manager) domainsUpdate(ctx context.Context, req api.DomainsChange, _ api.Output) (api.DomainsChangeResult, error) {
	var res api.DomainsChangeResult
	switch req.Action {
	case api.DomainsAdd, api.DomainsRemove, api.DomainsSet:
		if len(req.Domains) == 0 {
			return res, api.Errorf(api.CodeInvalid, "Please specify a domain name")
		}
	case api.DomainsClear:
	case api.DomainsReset, api.DomainsEnable, api.DomainsDisable:
		if req.Global {
			return res, api.Errorf(api.CodeInvalid, "domains:%s applies to an app, not --global", req.Action)
		}
	default:
		return res, api.Errorf(api.CodeInvalid, "Unknown domains action %q", req.Action)
	}
	names, err := normalizeDomains(req.Domains, req.Action != api.DomainsRemove)
	if err != nil {
		return res, err
	}
	if req.Global {
		err = m.store.Tx(ctx, func(tx *store.Tx) error {
			if req.App != "" {
				return api.Errorf(api.CodeInvalid, "Specify either an app or --global, not both")
			}
			return updateGlobalDomains(tx, req.Action, names, &res)
		})
		if err == nil {
			m.log.Info("global domains changed", "action", req.Action, "domains", res.Domains)
		}
		return res, err
	}
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		return m.updateAppDomains(tx, a, req.Action, names, &res)
	})
	if err != nil {
		return res, err
	}
	m.log.Info("domains changed", "app", req.App, "action", req.Action, "domains", res.Domains, "enabled", res.Enabled)
	// Outside the transaction: the proxy gets the app's new route.
	m.Notify(ctx, req.App)
	return res, nil
}

// splitKnown sorts names into those in have and the others, dropping repeats.
func splitKnown(names, have []string) (known, unknown []string) {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		if slices.Contains(have, n) {
			known = append(known, n)
		} else {
			unknown = append(unknown, n)
		}
	}
	return known, unknown
}

func updateGlobalDomains(tx *store.Tx, action string, names []string, res *api.DomainsChangeResult) error {
	cur, err := globalDomains(tx)
	if err != nil {
		return err
	}
	var next []string
	switch action {
	case api.DomainsAdd:
		res.Skipped, res.Added = splitKnown(names, cur)
		next = append(cur, res.Added...)
	case api.DomainsRemove:
		res.Removed, res.Missing = splitKnown(names, cur)
		next = slices.DeleteFunc(slices.Clone(cur), func(d string) bool { return slices.Contains(res.Removed, d) })
	case api.DomainsSet:
		_, next = splitKnown(names, nil)
	case api.DomainsClear:
		res.Removed = cur
	}
	res.Domains = next
	if res.Domains == nil {
		res.Domains = []string{}
	}
	return setGlobalDomains(tx, next)
}

func (m *Manager) updateAppDomains(tx *store.Tx, a store.App, action string, names []string, res *api.DomainsChangeResult) error {
	cur, err := tx.Domains(a)
	if err != nil {
		return err
	}
	enabled, err := domainsEnabled(tx, a)
	if err != nil {
		return err
	}
	res.WasEnabled, res.Enabled = enabled, enabled
	switch action {
	case api.DomainsAdd:
		res.Skipped, res.Added = splitKnown(names, cur)
		if err := checkWildcards(tx, a, res.Added); err != nil {
			return err
		}
		if err := tx.AddDomains(a, res.Added); err != nil {
			return takenError(err)
		}
		res.Enabled = true // as Dokku: adding domains enables them
	case api.DomainsRemove:
		_, unknown := splitKnown(names, cur)
		res.Missing = unknown
		if res.Removed, err = tx.RemoveDomains(a, names); err != nil {
			return err
		}
	case api.DomainsSet:
		_, names = splitKnown(names, nil)
		if err := checkWildcards(tx, a, names); err != nil {
			return err
		}
		if err := tx.SetDomains(a, names); err != nil {
			return takenError(err)
		}
		res.Enabled = true
	case api.DomainsClear:
		res.Removed = cur
		if err := tx.ClearDomains(a); err != nil {
			return err
		}
	case api.DomainsReset:
		if err := tx.ClearDomains(a); err != nil {
			return err
		}
		globals, err := globalDomains(tx)
		if err != nil {
			return err
		}
		if ds := app.DefaultDomains(a.Name, globals); len(ds) > 0 {
			if err := tx.AddDomains(a, ds); err != nil {
				return takenError(err)
			}
			res.Added = ds
		}
	case api.DomainsEnable:
		res.Enabled = true
		if !enabled && len(cur) == 0 {
			// Nothing to route: the app gets its default domain, if it is free.
			if err := m.OnAppCreated(tx, a); err != nil {
				return err
			}
		}
	case api.DomainsDisable:
		// The domains stay, so that enable brings them back.
		res.Enabled = false
	}
	if res.Enabled != enabled {
		if err := setDomainsEnabled(tx, a, res.Enabled); err != nil {
			return err
		}
	}
	if res.Domains, err = tx.Domains(a); err != nil {
		return err
	}
	if res.Domains == nil {
		res.Domains = []string{}
	}
	return nil
}

// OnAppCreated gives a new app (or a clone) its default domains:
// `APP.<global domain>` for each global domain, or the app's name when it
// contains a dot. A default another app already has is skipped silently.
// It runs inside the caller's transaction.
func (m *Manager) OnAppCreated(tx *store.Tx, a store.App) error {
	globals, err := globalDomains(tx)
	if err != nil {
		return err
	}
	var free []string
	for _, d := range app.DefaultDomains(a.Name, globals) {
		_, taken, err := tx.DomainOwner(d)
		if err != nil {
			return err
		}
		if !taken {
			free = append(free, d)
		}
	}
	if len(free) == 0 {
		return nil
	}
	return tx.AddDomains(a, free)
}

// OnAppRenamed moves an app's default domains to its new name, as Dokku
// does: `OLD.<global>` becomes `NEW.<global>`, and the old name itself (when
// it contained a dot) becomes the new name's default domain. Other domains
// stay, and so does a default whose new form another app already has. a
// must carry the new name (call it after tx.RenameApp, with a.Name set to
// the new name), inside the rename's transaction.
func (m *Manager) OnAppRenamed(tx *store.Tx, a store.App, oldName string) error {
	globals, err := globalDomains(tx)
	if err != nil {
		return err
	}
	ds, err := tx.Domains(a)
	if err != nil {
		return err
	}
	for _, d := range ds {
		nd, ok := app.RenamedDomain(d, oldName, a.Name, globals)
		if !ok || nd == d {
			continue
		}
		var te *store.DomainTakenError
		if _, err := tx.ReplaceDomain(a, d, nd); errors.As(err, &te) {
			continue
		} else if err != nil {
			return err
		}
	}
	return nil
}

// appHosts returns the host names the proxy routes to an app: its domains
// (in the order they were added; wildcards as `*.example.com`), or none when
// its domains are disabled. A missing app is api.AppNotFound.
func (m *Manager) appHosts(ctx context.Context, appName string) ([]string, error) {
	var hosts []string
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		enabled, err := domainsEnabled(tx, a)
		if err != nil || !enabled {
			return err
		}
		hosts, err = tx.Domains(a)
		return err
	})
	return hosts, err
}

// CheckHost is the Host header of the app's path checks that name none
// (a relative CHECKS path): its first domain that is a host name (not a
// wildcard, not `_`), as Dokku sends; "" when it has none, or its domains
// are disabled (the check then sends 127.0.0.1:PORT, where Dokku sends the
// container's IP:PORT).
func (m *Manager) CheckHost(ctx context.Context, appName string) string {
	hosts, err := m.appHosts(ctx, appName)
	if err != nil {
		return ""
	}
	return firstHostName(hosts)
}

// firstHostName returns the first of hosts that names one host (not a
// wildcard, not `_`), or "".
func firstHostName(hosts []string) string {
	for _, h := range hosts {
		if h != "_" && !app.IsWildcardDomain(h) {
			return h
		}
	}
	return ""
}

func (m *Manager) domainsReport(ctx context.Context, req api.DomainsReportRequest, _ api.Output) (api.DomainsReports, error) {
	res := api.DomainsReports{Reports: []api.DomainsReport{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		globals, err := globalDomains(tx)
		if err != nil {
			return err
		}
		base := api.DomainsReport{AppVhosts: []string{}, GlobalVhosts: []string{}}
		for _, g := range globals {
			if app.ValidateDomain(g) == nil {
				base.GlobalVhosts = append(base.GlobalVhosts, g)
			}
		}
		base.GlobalEnabled = len(base.GlobalVhosts) > 0
		var apps []store.App
		switch {
		case req.Global:
			res.Reports = append(res.Reports, base)
			return nil
		case req.All:
			if apps, err = tx.Apps(); err != nil {
				return err
			}
		default:
			a, err := apierr.App(tx, req.App)
			if err != nil {
				return err
			}
			apps = []store.App{a}
		}
		for _, a := range apps {
			r := base
			r.App = a.Name
			if r.AppEnabled, err = domainsEnabled(tx, a); err != nil {
				return err
			}
			ds, err := tx.Domains(a)
			if err != nil {
				return err
			}
			if ds != nil {
				r.AppVhosts = ds
			}
			res.Reports = append(res.Reports, r)
		}
		return nil
	})
	return res, err
}

// domainsURLs returns an app's URLs: one per domain, the first one that is
// not a wildcard first. The proxy routes by host name only, so an app
// whose domains are disabled, or that has none, has no URL: that is an
// error saying how to give it one (Dokku prints the server's host name,
// where its nginx serves such an app; Berth's proxy answers 404 there).
func (m *Manager) domainsURLs(ctx context.Context, req api.AppRef, _ api.Output) (api.URLList, error) {
	var hosts []string
	tlsOn, enabled := false, true
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		if _, err := tx.Cert(a); err == nil {
			tlsOn = m.httpsAddr != "" && m.httpsAddr != "off"
		}
		if enabled, err = domainsEnabled(tx, a); err != nil || !enabled {
			return err
		}
		hosts, err = tx.Domains(a)
		return err
	})
	if err != nil {
		return api.URLList{}, err
	}
	switch {
	case !enabled:
		return api.URLList{}, api.Errorf(api.CodeNotFound, "%s has no URL: its domains are disabled; enable them with domains:enable %s", req.App, req.App)
	case len(hosts) == 0:
		return api.URLList{}, api.Errorf(api.CodeNotFound, "%s has no URL yet: it has no domain; add one with domains:add %s DOMAIN", req.App, req.App)
	}
	scheme, port := "http", app.ListenPort(m.httpAddr)
	if tlsOn {
		scheme, port = "https", app.ListenPort(m.httpsAddr)
	}
	if i := slices.IndexFunc(hosts, func(h string) bool { return !app.IsWildcardDomain(h) && h != "_" }); i > 0 {
		hosts = append([]string{hosts[i]}, slices.Delete(slices.Clone(hosts), i, i+1)...)
	}
	res := api.URLList{URLs: make([]string, 0, len(hosts))}
	for _, h := range hosts {
		res.URLs = append(res.URLs, app.URL(scheme, h, port))
	}
	return res, nil
}
