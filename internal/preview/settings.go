package preview

import (
	"context"
	"errors"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/store"
)

func settingsInfo(a store.App, s store.PreviewSettings) api.PreviewSettings {
	return api.PreviewSettings{App: a.Name, Enabled: s.Enabled, Expire: FormatExpire(s.Expire)}
}

// notPreview refuses previews of a preview app.
func notPreview(tx *store.Tx, a store.App) error {
	if p, err := tx.PreviewOf(a.Name); err == nil {
		return api.Errorf(api.CodeInvalid, "%s is the preview of %s's branch %s; previews are made of the parent app", a.Name, p.Parent, p.Branch)
	} else if !errors.Is(err, store.ErrPreviewNotFound) {
		return err
	}
	return nil
}

func (m *Manager) setEnabled(ctx context.Context, appName string, on bool) (api.PreviewSettings, error) {
	return m.update(ctx, appName, func(tx *store.Tx, a store.App, s *store.PreviewSettings) error {
		if on {
			if err := notPreview(tx, a); err != nil {
				return err
			}
		}
		s.Enabled = on
		return nil
	})
}

func (m *Manager) set(ctx context.Context, req api.PreviewSet, _ api.Output) (api.PreviewSettings, error) {
	if req.Key != "expire" {
		return api.PreviewSettings{}, api.Errorf(api.CodeInvalid, "Invalid key %q: the previews setting is expire", req.Key)
	}
	d, err := ParseExpire(req.Value)
	if err != nil {
		return api.PreviewSettings{}, apierr.Invalid(err)
	}
	return m.update(ctx, req.App, func(_ *store.Tx, _ store.App, s *store.PreviewSettings) error {
		s.Expire = d
		return nil
	})
}

// update changes an app's preview settings in one transaction and
// returns them as they are then.
func (m *Manager) update(ctx context.Context, appName string, change func(*store.Tx, store.App, *store.PreviewSettings) error) (api.PreviewSettings, error) {
	var res api.PreviewSettings
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, appName)
		if err != nil {
			return err
		}
		s, err := tx.PreviewSettings(a)
		if err != nil {
			return err
		}
		if err := change(tx, a, &s); err != nil {
			return err
		}
		res = settingsInfo(a, s)
		return tx.SetPreviewSettings(a, s)
	})
	return res, err
}

func previewInfo(p store.Preview, expire store.PreviewSettings) api.PreviewInfo {
	return api.PreviewInfo{Parent: p.Parent, App: p.App, Branch: p.Branch, URL: p.URL, Services: append([]string{}, p.Services...),
		Created: p.CreatedAt.UTC(), Pushed: p.PushedAt.UTC(), Expires: Expires(p.PushedAt, expire.Expire).UTC()}
}

func (m *Manager) list(ctx context.Context, req api.AppRef, _ api.Output) (api.PreviewList, error) {
	res := api.PreviewList{Previews: []api.PreviewInfo{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		s, err := tx.PreviewSettings(a)
		if err != nil {
			return err
		}
		ps, err := tx.Previews(a.Name)
		for _, p := range ps {
			res.Previews = append(res.Previews, previewInfo(p, s))
		}
		return err
	})
	return res, err
}

func (m *Manager) report(ctx context.Context, req api.PreviewReportRequest, _ api.Output) (api.PreviewReports, error) {
	res := api.PreviewReports{Reports: []api.PreviewReport{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var apps []store.App
		if req.App != "" {
			a, err := apierr.App(tx, req.App)
			if err != nil {
				return err
			}
			apps = []store.App{a}
		} else {
			all, err := tx.Apps()
			if err != nil {
				return err
			}
			apps = all
		}
		for _, a := range apps {
			s, err := tx.PreviewSettings(a)
			if err != nil {
				return err
			}
			ps, err := tx.Previews(a.Name)
			if err != nil {
				return err
			}
			if req.App == "" && !s.Enabled && len(ps) == 0 {
				continue
			}
			res.Reports = append(res.Reports, api.PreviewReport{PreviewSettings: settingsInfo(a, s), Previews: len(ps)})
		}
		return nil
	})
	return res, err
}
