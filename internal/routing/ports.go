package routing

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/proxy"
	"github.com/berthpaas/berth/internal/store"
)

// portMaps returns the maps ports:set/add gave an app (none: nil).
func portMaps(tx *store.Tx, a store.App) ([]app.PortMap, error) {
	v, _, err := tx.Property(a.Scope(), portsNS, portsMap)
	if err != nil {
		return nil, err
	}
	return app.ParsePortMaps(v)
}

// detected is what ports:report's map-detected is made of: the live
// release's image and exposed ports, the proxy ports set, and whether the
// app has a certificate.
type detected struct {
	webPort       int
	tcp, udp      []int
	proxyPort     int
	proxySSLPort  int
	hasCert       bool
	haveImagePort bool
}

// detectedPortMaps are the maps Dokku would detect for an app (what
// ports:report shows as map-detected; the maps set with ports:set/add
// win): one per port its image EXPOSEs (http:P:P, https:443:443,
// udp:P:P), else http:80:PORT (the web process's port, 5000 by default;
// the host port is proxy-port when set). With a certificate, each
// http:80 map gets an https:443 one beside it, or, with none on 80, every
// http map becomes https. Berth serves detected maps on its proxy's own
// HTTP and HTTPS ports: only maps set with ports:set/add open other ports
// (an EXPOSE in a Dockerfile does not make the proxy take a host port).
func detectedPortMaps(d detected) []app.PortMap {
	var maps []app.PortMap
	if d.haveImagePort {
		for _, p := range d.tcp {
			scheme := "http"
			if p == 443 {
				scheme = "https"
			}
			maps = append(maps, app.PortMap{Scheme: scheme, Host: p, Container: p})
		}
		for _, p := range d.udp {
			maps = append(maps, app.PortMap{Scheme: "udp", Host: p, Container: p})
		}
	}
	if len(maps) == 0 {
		pm := app.DefaultPortMap
		if d.webPort != 0 {
			pm.Container = d.webPort
		}
		if d.proxyPort != 0 {
			pm.Host = d.proxyPort
		}
		maps = []app.PortMap{pm}
	}
	if d.hasCert {
		sslPort := 443
		if d.proxySSLPort != 0 {
			sslPort = d.proxySSLPort
		}
		on80 := false
		for _, pm := range maps {
			if pm.Scheme == "http" && pm.Host == 80 {
				on80 = true
				maps = append(maps, app.PortMap{Scheme: "https", Host: sslPort, Container: pm.Container})
			}
		}
		if !on80 {
			for i := range maps {
				if maps[i].Scheme == "http" {
					maps[i].Scheme = "https"
				}
			}
		}
	}
	sort.Slice(maps, func(i, j int) bool { return maps[i].String() < maps[j].String() })
	return slices.CompactFunc(maps, func(a, b app.PortMap) bool { return a == b })
}

// detectedOf reads what detectedPortMaps needs from the store; the
// image's ports are filled in by exposedPorts, outside the transaction.
func detectedOf(tx *store.Tx, a store.App) (detected, string) {
	var d detected
	var image string
	if live, err := tx.LiveRelease(a); err == nil {
		d.webPort, image = live.WebPort, live.Image
	}
	get := proxySetting(tx, a)
	d.proxyPort, _ = strconv.Atoi(get("proxy-port", ""))
	d.proxySSLPort, _ = strconv.Atoi(get("proxy-ssl-port", ""))
	if _, err := tx.Cert(a); err == nil {
		d.hasCert = true
	}
	return d, image
}

// exposedPorts fills in the image's exposed ports (none when the image
// cannot be read).
func (m *Manager) exposedPorts(ctx context.Context, d *detected, image string) {
	if image == "" || m.imagePorts == nil {
		return
	}
	tcp, udp, err := m.imagePorts(ctx, image)
	if err != nil {
		m.log.Debug("exposed ports of the live image", "image", image, "err", err)
		return
	}
	d.tcp, d.udp, d.haveImagePort = tcp, udp, true
}

// extraPorts are the ports of an app's route beside the proxy's own HTTP
// and HTTPS ports: those of its http and https maps (ports:set/add) on
// other host ports, to the port its web containers publish (a map to
// another container port is recorded but not served: web containers
// publish one port). An https map needs the app's certificate.
func (m *Manager) extraPorts(maps []app.PortMap, webPort int, hasTLS bool) []proxy.Port {
	mainHTTP, mainHTTPS := app.ListenPort(m.httpAddr), app.ListenPort(m.httpsAddr)
	var out []proxy.Port
	for _, pm := range maps {
		if pm.Container != webPort || slices.ContainsFunc(out, func(p proxy.Port) bool { return p.Port == pm.Host }) {
			continue
		}
		switch {
		case pm.Scheme == "http" && pm.Host != 80 && pm.Host != mainHTTP && pm.Host != mainHTTPS:
			out = append(out, proxy.Port{Port: pm.Host})
		case pm.Scheme == "https" && hasTLS && pm.Host != 443 && pm.Host != mainHTTPS && pm.Host != mainHTTP:
			out = append(out, proxy.Port{Port: pm.Host, TLS: true})
		}
	}
	return out
}

// WebContainerPort returns the container port the proxy should send an
// app's HTTP traffic to: that of its http port map (the one on the proxy's
// HTTP port, else on 80, else the first) when ports:set/add set one, else
// detected (the image's EXPOSEd port, or 5000).
func (m *Manager) WebContainerPort(ctx context.Context, appName string, detected int) (int, error) {
	port := detected
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		maps, err := portMaps(tx, a)
		if err != nil {
			return err
		}
		if m, ok := webPortMap(maps, app.ListenPort(m.httpAddr)); ok {
			port = m.Container
		}
		return nil
	})
	return port, err
}

// webPortMap picks the http map the proxy's HTTP listener serves.
func webPortMap(maps []app.PortMap, listen int) (app.PortMap, bool) {
	var first *app.PortMap
	for i, m := range maps {
		if m.Scheme != "http" {
			continue
		}
		if m.Host == listen {
			return m, true
		}
		if first == nil || (m.Host == 80 && first.Host != 80) {
			first = &maps[i]
		}
	}
	if first == nil {
		return app.PortMap{}, false
	}
	return *first, true
}
func (m *Manager) portsUpdate(ctx context.Context, req api.PortsChange, _ api.Output) (api.PortsReport, error) {
	var res api.PortsReport
	var pending pendingDetect
	var given []app.PortMap
	switch req.Action {
	case api.PortsAdd, api.PortsSet, api.PortsRemove:
		if len(req.Maps) == 0 {
			return res, api.Errorf(api.CodeInvalid, "No port mapping specified")
		}
		parse := app.ParsePortMap
		if req.Action == api.PortsRemove {
			parse = app.ParsePortSelector
		}
		for _, f := range req.Maps {
			for _, one := range strings.Fields(f) {
				m, err := parse(one)
				if err != nil {
					return res, apierr.Invalid(err)
				}
				given = append(given, m)
			}
		}
	case api.PortsClear:
	default:
		return res, api.Errorf(api.CodeInvalid, "Unknown ports action %q", req.Action)
	}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		cur, err := portMaps(tx, a)
		if err != nil {
			return err
		}
		var next []app.PortMap
		switch req.Action {
		case api.PortsAdd:
			for _, g := range given {
				for _, c := range cur {
					if c.Scheme == g.Scheme && c.Host == g.Host {
						return apierr.Invalid(app.Invalidf("Error validating all port mappings: %s:%d is already mapped (%s); remove it first", g.Scheme, g.Host, c))
					}
				}
			}
			next = append(cur, given...)
		case api.PortsSet:
			next = given
		case api.PortsRemove:
			next = slices.DeleteFunc(cur, func(m app.PortMap) bool {
				return slices.ContainsFunc(given, func(sel app.PortMap) bool { return sel.Matches(m) })
			})
		}
		if next, err = app.NormalizePortMaps(next); err != nil {
			return apierr.Invalid(err)
		}
		if len(next) == 0 {
			err = tx.UnsetProperty(a.Scope(), portsNS, portsMap)
		} else {
			err = tx.SetProperty(a.Scope(), portsNS, portsMap, app.FormatPortMaps(next))
		}
		if err != nil {
			return err
		}
		res, pending = portsReportOf(tx, a, next)
		return nil
	})
	if err != nil {
		return res, err
	}
	m.finishReport(ctx, &res, pending)
	m.log.Info("ports changed", "app", req.App, "action", req.Action, "map", res.Map)
	m.Notify(ctx, req.App)
	return res, nil
}

// portsReportOf is an app's report: its maps, and the detected ones
// (finished by finishReport, outside the transaction).
func portsReportOf(tx *store.Tx, a store.App, maps []app.PortMap) (api.PortsReport, pendingDetect) {
	r := api.PortsReport{App: a.Name, Map: []string{}, Detected: []string{}}
	for _, m := range maps {
		r.Map = append(r.Map, m.String())
	}
	d, image := detectedOf(tx, a)
	return r, pendingDetect{d, image}
}

// pendingDetect is what an app's detected maps are made of, once the
// image's ports are read.
type pendingDetect struct {
	d     detected
	image string
}

func (m *Manager) finishReport(ctx context.Context, r *api.PortsReport, p pendingDetect) {
	m.exposedPorts(ctx, &p.d, p.image)
	for _, pm := range detectedPortMaps(p.d) {
		r.Detected = append(r.Detected, pm.String())
	}
}

func (m *Manager) portsReport(ctx context.Context, req api.PortsRequest, _ api.Output) (api.PortsReports, error) {
	res := api.PortsReports{Reports: []api.PortsReport{}}
	var pending []pendingDetect
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var apps []store.App
		if req.All {
			var err error
			if apps, err = tx.Apps(); err != nil {
				return err
			}
		} else {
			a, err := apierr.App(tx, req.App)
			if err != nil {
				return err
			}
			apps = []store.App{a}
		}
		for _, a := range apps {
			maps, err := portMaps(tx, a)
			if err != nil {
				return err
			}
			r, p := portsReportOf(tx, a, maps)
			res.Reports = append(res.Reports, r)
			pending = append(pending, p)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for i := range res.Reports {
		m.finishReport(ctx, &res.Reports[i], pending[i])
	}
	return res, nil
}

// addHTTPSMaps gives an app whose maps serve http:80 an https:443 map to
// the same container port, unless it has one (Dokku, when a certificate
// is added).
func addHTTPSMaps(tx *store.Tx, a store.App) error {
	maps, err := portMaps(tx, a)
	if err != nil || slices.ContainsFunc(maps, func(pm app.PortMap) bool { return pm.Scheme == "https" && pm.Host == 443 }) {
		return err
	}
	var add []app.PortMap
	for _, pm := range maps {
		if pm.Scheme == "http" && pm.Host == 80 {
			add = append(add, app.PortMap{Scheme: "https", Host: 443, Container: pm.Container})
		}
	}
	if len(add) == 0 {
		return nil
	}
	next, err := app.NormalizePortMaps(append(maps, add...))
	if err != nil {
		return nil // two http:80 maps to different ports: leave them be
	}
	return tx.SetProperty(a.Scope(), portsNS, portsMap, app.FormatPortMaps(next))
}

// removeHTTPSMaps takes an app's https:443 maps away when its
// certificate is removed (Dokku does).
func removeHTTPSMaps(tx *store.Tx, a store.App) error {
	maps, err := portMaps(tx, a)
	if err != nil {
		return err
	}
	next := slices.DeleteFunc(slices.Clone(maps), func(pm app.PortMap) bool { return pm.Scheme == "https" && pm.Host == 443 })
	if len(next) == len(maps) {
		return nil
	}
	if len(next) == 0 {
		return tx.UnsetProperty(a.Scope(), portsNS, portsMap)
	}
	return tx.SetProperty(a.Scope(), portsNS, portsMap, app.FormatPortMaps(next))
}
