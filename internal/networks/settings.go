package networks

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Namespace is the properties' namespace of the network settings.
const Namespace = "network"

// The settings (Dokku's network properties).
const (
	keyAttachPostCreate  = "attach-post-create"
	keyAttachPostDeploy  = "attach-post-deploy"
	keyBindAllInterfaces = "bind-all-interfaces"
	keyInitialNetwork    = "initial-network"
	keyStaticWebListener = "static-web-listener"
	keyTLD               = "tld"
)

// networkKeys are the settings that name networks.
var networkKeys = []string{keyAttachPostCreate, keyAttachPostDeploy, keyInitialNetwork}

func init() {
	for _, k := range []string{keyAttachPostCreate, keyAttachPostDeploy, keyInitialNetwork, keyTLD} {
		app.Register(app.Setting{Namespace: Namespace, Key: k, Scope: app.ScopeBoth})
	}
	app.Register(app.Setting{Namespace: Namespace, Key: keyBindAllInterfaces, Scope: app.ScopeBoth, Default: "false", Validate: app.ValidateBool})
	app.Register(app.Setting{Namespace: Namespace, Key: keyStaticWebListener, Scope: app.ScopeApp})
}

// splitList reads a comma-separated list of networks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// validTLD accepts a DNS suffix such as "svc.cluster.local".
func validTLD(v string) bool {
	if len(v) > 200 {
		return false
	}
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// checkValue checks the values given to network:set KEY (none: clear).
func checkValue(key string, values []string) (string, error) {
	if _, err := app.LookupSetting(Namespace, key, false); err != nil {
		if _, gerr := app.LookupSetting(Namespace, key, true); gerr != nil {
			return "", err
		}
	}
	if len(values) == 0 {
		return "", nil
	}
	switch key {
	case keyAttachPostCreate, keyAttachPostDeploy:
		var names []string
		for _, v := range values {
			for _, n := range splitList(v) {
				if n == "host" || n == "bridge" || n == "none" {
					return "", app.Invalidf("Invalid network name specified for attach: %s", n)
				}
				if !validName().MatchString(n) {
					return "", app.Invalidf("Invalid network name %q", n)
				}
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
		return strings.Join(names, ","), nil
	}
	if len(values) > 1 {
		return "", app.Invalidf("%s takes one value; got %d", key, len(values))
	}
	v := values[0]
	switch key {
	case keyInitialNetwork:
		if !validName().MatchString(v) {
			return "", app.Invalidf("Invalid network name %q", v)
		}
	case keyBindAllInterfaces:
		if err := app.ValidateBool(v); err != nil {
			return "", err
		}
	case keyTLD:
		if !validTLD(v) {
			return "", app.Invalidf("Invalid tld %q: a DNS suffix such as svc.cluster.local", v)
		}
	case keyStaticWebListener:
		host, port, err := net.SplitHostPort(v)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			return "", app.Invalidf("Invalid static-web-listener %q: HOST:PORT, such as 127.0.0.1:5000", v)
		}
	}
	return v, nil
}

func (m *Manager) set(ctx context.Context, req api.NetworkSet, _ api.Output) (api.Empty, error) {
	if _, err := app.LookupSetting(Namespace, req.Key, req.Global); err != nil {
		return api.Empty{}, err
	}
	value, err := checkValue(req.Key, req.Values)
	if err != nil {
		return api.Empty{}, err
	}
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
		sc, err := scopeOf(tx, req.Scope)
		if err != nil {
			return err
		}
		if value == "" {
			return tx.UnsetProperty(sc, Namespace, req.Key)
		}
		if req.Key == keyAttachPostCreate || req.Key == keyAttachPostDeploy {
			// A network is joined after create or after deploy, not both.
			other := keyAttachPostDeploy
			if req.Key == keyAttachPostDeploy {
				other = keyAttachPostCreate
			}
			cur := computed(tx, sc, other)
			for _, n := range splitList(value) {
				if slices.Contains(splitList(cur), n) {
					return app.Invalidf("Network name already associated with this app: %s", n)
				}
			}
		}
		return tx.SetProperty(sc, Namespace, req.Key, value)
	})
	return api.Empty{}, err
}

// scopeOf is the store's scope of an API scope.
func scopeOf(tx *store.Tx, s api.Scope) (store.Scope, error) {
	if s.Global {
		return store.Global, nil
	}
	if s.App == "" {
		return 0, app.Invalidf("Please specify an app to run the command on")
	}
	a, err := tx.App(s.App)
	if err != nil {
		return 0, err
	}
	return a.Scope(), nil
}

// computed is a setting in effect in sc: its own value, else the global
// one, else the default.
func computed(tx *store.Tx, sc store.Scope, key string) string {
	if v, ok, _ := tx.Property(sc, Namespace, key); ok && v != "" {
		return v
	}
	if v, ok, _ := tx.Property(store.Global, Namespace, key); ok && v != "" {
		return v
	}
	s, _ := app.LookupSettingAny(Namespace, key)
	return s.Default
}

func (m *Manager) report(ctx context.Context, req api.NetworkReportRequest, _ api.Output) (api.NetworkReport, error) {
	res := api.NetworkReport{App: map[string]string{}, Global: map[string]string{}, Computed: map[string]string{}}
	var appName string
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		sc, err := scopeOf(tx, req.Scope)
		if err != nil {
			return err
		}
		if !req.Global {
			appName = req.App
		}
		global, err := tx.Properties(store.Global, Namespace)
		if err != nil {
			return err
		}
		own := map[string]string{}
		if !req.Global {
			if own, err = tx.Properties(sc, Namespace); err != nil {
				return err
			}
		}
		for _, k := range app.SettingKeys(Namespace) {
			res.App[k] = own[k]
			res.Global[k] = global[k]
			res.Computed[k] = computed(tx, sc, k)
		}
		return nil
	})
	if err != nil || appName == "" {
		return res, err
	}
	if v := res.App[keyStaticWebListener]; v != "" {
		res.WebListeners = v
		return res, nil
	}
	res.WebListeners = m.webListeners(ctx, appName)
	return res, nil
}
