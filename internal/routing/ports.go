package routing

import (
	"context"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
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

// detectedPortMaps is the map Berth uses when none is set. The deploy will
// supply the web port its image exposes; until then it is http:80:5000.
func detectedPortMaps(tx *store.Tx, a store.App) []app.PortMap {
	pm := app.DefaultPortMap
	if live, err := tx.LiveRelease(a); err == nil && live.WebPort != 0 {
		pm.Container = live.WebPort
	}
	return []app.PortMap{pm}
}

// WebContainerPort returns the container port the proxy should send an
// app's HTTP traffic to: that of its http port map (the one on the proxy's
// HTTP port, else on 80, else the first) when ports:set/add set one, else
// detected (the image's EXPOSEd port, or 5000).
func (m *Manager) WebContainerPort(ctx context.Context, appName string, detected int) (int, error) {
	port := detected
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, appName)
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
					return res, invalid(err)
				}
				given = append(given, m)
			}
		}
	case api.PortsClear:
	default:
		return res, api.Errorf(api.CodeInvalid, "Unknown ports action %q", req.Action)
	}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := getApp(tx, req.App)
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
			next = append(cur, given...)
		case api.PortsSet:
			next = given
		case api.PortsRemove:
			next = slices.DeleteFunc(cur, func(m app.PortMap) bool {
				return slices.ContainsFunc(given, func(sel app.PortMap) bool { return sel.Matches(m) })
			})
		}
		if next, err = app.NormalizePortMaps(next); err != nil {
			return invalid(err)
		}
		if len(next) == 0 {
			err = tx.UnsetProperty(a.Scope(), portsNS, portsMap)
		} else {
			err = tx.SetProperty(a.Scope(), portsNS, portsMap, app.FormatPortMaps(next))
		}
		if err != nil {
			return err
		}
		res = portsReportOf(tx, a, next)
		return nil
	})
	if err != nil {
		return res, err
	}
	m.log.Info("ports changed", "app", req.App, "action", req.Action, "map", res.Map)
	m.Notify(ctx, req.App)
	return res, nil
}

func portsReportOf(tx *store.Tx, a store.App, maps []app.PortMap) api.PortsReport {
	r := api.PortsReport{App: a.Name, Map: []string{}, Detected: []string{}}
	for _, m := range maps {
		r.Map = append(r.Map, m.String())
	}
	for _, m := range detectedPortMaps(tx, a) {
		r.Detected = append(r.Detected, m.String())
	}
	return r
}

func (m *Manager) portsReport(ctx context.Context, req api.PortsRequest, _ api.Output) (api.PortsReports, error) {
	res := api.PortsReports{Reports: []api.PortsReport{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var apps []store.App
		if req.All {
			var err error
			if apps, err = tx.Apps(); err != nil {
				return err
			}
		} else {
			a, err := getApp(tx, req.App)
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
			res.Reports = append(res.Reports, portsReportOf(tx, a, maps))
		}
		return nil
	})
	return res, err
}
