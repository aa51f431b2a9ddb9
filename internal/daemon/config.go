package daemon

import (
	"context"
	"maps"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/routing"
	"github.com/berthpaas/berth/internal/store"
)

func (s *Service) configGet(ctx context.Context, req api.ConfigRequest, _ api.Output) (api.ConfigVars, error) {
	var res api.ConfigVars
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		sc, err := scope(tx, req.Scope)
		if err != nil {
			return err
		}
		vars, err := tx.Config(sc)
		if err != nil {
			return err
		}
		if req.Merged && sc != store.Global {
			merged, err := tx.Config(store.Global)
			if err != nil {
				return err
			}
			maps.Copy(merged, vars)
			vars = merged
		}
		res.Vars = vars
		return nil
	})
	return res, err
}

func (s *Service) configUpdate(ctx context.Context, req api.ConfigChange, out api.Output) (api.ConfigChangeResult, error) {
	var res api.ConfigChangeResult
	if err := app.ValidateVars(req.Set); err != nil {
		return res, apierr.Invalid(err)
	}
	for _, k := range req.Unset {
		if err := app.ValidateKey(k); err != nil {
			return res, apierr.Invalid(err)
		}
	}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		sc, err := scope(tx, req.Scope)
		if err != nil {
			return err
		}
		if req.Replace {
			old, err := tx.Config(sc)
			if err != nil {
				return err
			}
			for _, k := range app.SortedKeys(old) {
				if _, kept := req.Set[k]; !kept {
					res.Unset = append(res.Unset, k)
				}
			}
			if err := tx.ClearConfig(sc); err != nil {
				return err
			}
		}
		if err := tx.SetConfig(sc, req.Set); err != nil {
			return err
		}
		removed, err := tx.UnsetConfig(sc, req.Unset)
		res.Unset = append(res.Unset, removed...)
		return err
	})
	if err != nil {
		return res, err
	}
	// Keys only: config values are secrets and never reach the log.
	s.log.Info("config changed", "app", req.App, "global", req.Global, "set", app.SortedKeys(req.Set), "unset", res.Unset)
	if req.Global || req.NoRestart || s.redeploy == nil {
		return res, nil
	}
	res.Restarted, err = s.redeploy.Redeploy(ctx, req.App, out)
	return res, err
}

func (s *Service) propertiesSet(ctx context.Context, req api.PropertyChange, _ api.Output) (api.Empty, error) {
	setting, err := app.LookupSetting(req.Namespace, req.Key, req.Global)
	if err != nil {
		return api.Empty{}, apierr.Invalid(err)
	}
	if !req.Unset && setting.Validate != nil {
		if err := setting.Validate(req.Value); err != nil {
			return api.Empty{}, apierr.Invalid(err)
		}
	}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		sc, err := scope(tx, req.Scope)
		if err != nil {
			return err
		}
		if req.Unset {
			return tx.UnsetProperty(sc, req.Namespace, req.Key)
		}
		return tx.SetProperty(sc, req.Namespace, req.Key, req.Value)
	})
	return api.Empty{}, err
}

func (s *Service) propertiesReport(ctx context.Context, req api.PropertyReport, _ api.Output) (api.PropertyValues, error) {
	res := api.PropertyValues{App: map[string]string{}, Global: map[string]string{}, Computed: map[string]string{}}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		global, err := tx.Properties(store.Global, req.Namespace)
		if err != nil {
			return err
		}
		appProps := map[string]string{}
		sc := store.Global
		if !req.Global {
			if sc, err = scope(tx, req.Scope); err != nil {
				return err
			}
			if appProps, err = tx.Properties(sc, req.Namespace); err != nil {
				return err
			}
		}
		for _, k := range app.SettingKeys(req.Namespace) {
			setting, _ := app.LookupSettingAny(req.Namespace, k)
			res.App[k] = appProps[k]
			res.Global[k] = global[k]
			switch {
			case appProps[k] != "":
				res.Computed[k] = appProps[k]
			case global[k] != "":
				res.Computed[k] = global[k]
			default:
				res.Computed[k] = setting.Default
			}
		}
		if req.Namespace == "letsencrypt" && res.Computed["email"] == "" {
			// What letsencrypt:enable would use: DOKKU_LETSENCRYPT_EMAIL.
			if res.Computed["email"], err = routing.ConfigEmail(tx, sc); err != nil {
				return err
			}
		}
		res.Fields = reportFields(req.Namespace, req.Global, res)
		return nil
	})
	return res, err
}

// reportFields lists a namespace's report lines from the settings registry:
// each setting's raw, computed and global lines as it declares them; with
// global, only the computed and global lines of the globally settable ones.
func reportFields(ns string, global bool, v api.PropertyValues) []api.ReportField {
	fields := []api.ReportField{}
	for _, k := range app.SettingKeys(ns) {
		setting, _ := app.LookupSettingAny(ns, k)
		forms := setting.Forms()
		if global && setting.Scope&app.ScopeGlobal == 0 {
			continue
		}
		if forms&app.ReportRaw != 0 && !global {
			fields = append(fields, api.ReportField{Key: k, Value: v.App[k]})
		}
		if forms&app.ReportComputed != 0 {
			fields = append(fields, api.ReportField{Key: "computed-" + k, Value: v.Computed[k]})
		}
		if forms&app.ReportGlobal != 0 {
			fields = append(fields, api.ReportField{Key: "global-" + k, Value: v.Global[k]})
		}
	}
	return fields
}
