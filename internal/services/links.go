package services

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Links: a config variable with the service's URL on the app, and the
// service attached to the app's network (network.go).

// linkURL is the URL a link sets: the service's, plus the link's query,
// with the scheme the app asks for in KIND_DATABASE_SCHEME (dokku-postgres's
// POSTGRES_DATABASE_SCHEME=postgres2, say) when it sets one.
func linkURL(sk serviceKind, l store.Link, appVars map[string]string) string {
	u := sk.url(l.Service, serviceHost(l.Service.Kind, l.Service.Name))
	if scheme := appVars[strings.ToUpper(l.Service.Kind)+"_DATABASE_SCHEME"]; scheme != "" {
		if _, rest, ok := strings.Cut(u, "://"); ok {
			u = scheme + "://" + rest
		}
	}
	if l.Query != "" {
		u += "?" + l.Query
	}
	return u
}

// freeColorVar is the first of the kind's color variables the app has not set.
func freeColorVar(sk serviceKind, vars map[string]string) string {
	for _, c := range colors {
		if v := sk.colorPrefix + c + "_URL"; vars[v] == "" {
			return v
		}
	}
	return ""
}

func (m *Manager) serviceLink(ctx context.Context, req api.ServiceLink, out api.Output) (api.ServiceLinkResult, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceLinkResult{}, err
	}
	if strings.ContainsAny(req.QueryString, " \n#") {
		return api.ServiceLinkResult{}, api.Errorf(api.CodeInvalid, "Invalid --querystring %q", req.QueryString)
	}
	var res api.ServiceLinkResult
	var url string
	var svc store.Service
	err = m.inLinkTx(ctx, req, func(tx *store.Tx, st linkState) error {
		svc = st.svc
		if st.link != nil {
			return api.Errorf(api.CodeConflict, "Already linked as %s", st.link.Var)
		}
		vars, err := tx.Config(st.app.Scope())
		if err != nil {
			return err
		}
		switch {
		case req.Alias != "":
			res.Var = strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(req.Alias))
			res.Var = strings.TrimSuffix(res.Var, "_URL") + "_URL"
			if app.ValidateKey(res.Var) != nil {
				return api.Errorf(api.CodeInvalid, "Invalid alias %q: use letters, digits and _", req.Alias)
			}
		case vars[sk.envVar] == "":
			res.Var = sk.envVar
		default:
			if res.Var = freeColorVar(sk, vars); res.Var == "" {
				return api.Errorf(api.CodeConflict, "No free %s*_URL variable left on %s; use --alias", sk.colorPrefix, req.App)
			}
		}
		for _, l := range st.links {
			if l.Var == res.Var {
				return api.Errorf(api.CodeConflict, "%s on %s already points to %s service %s; use --alias", res.Var, req.App, l.Service.Kind, l.Service.Name)
			}
		}
		l := store.Link{Service: st.svc, App: st.app.Name, Var: res.Var, Query: strings.TrimPrefix(req.QueryString, "?")}
		if err := tx.AddLink(l, st.app); err != nil {
			return err
		}
		url = linkURL(sk, l, vars)
		return tx.SetConfig(st.app.Scope(), map[string]string{res.Var: url})
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out.Stdout, "-----> Setting config vars\n       %s:  %s\n", res.Var, url)
	m.log.Info("service linked", "kind", req.Kind, "name", req.Name, "app", req.App, "var", res.Var)
	m.linkNetwork(ctx, svc, req.App, out)
	return res, m.restartLinked(ctx, req.App, req.NoRestart, out)
}

func (m *Manager) restartLinked(ctx context.Context, app string, noRestart bool, out api.Output) error {
	if noRestart {
		// dokku-postgres's words: scripts look for them.
		fmt.Fprintf(out.Stdout, "-----> Skipping restart of linked app\n")
		return nil
	}
	if m.redeploy == nil {
		return nil
	}
	fmt.Fprintf(out.Stdout, "-----> Restarting app %s\n", app)
	deployed, err := m.redeploy.Redeploy(ctx, app, out)
	if err == nil && !deployed {
		fmt.Fprintf(out.Stdout, "       App %s has not been deployed yet; it gets the variable on its first deploy\n", app)
	}
	return err
}

func (m *Manager) serviceUnlink(ctx context.Context, req api.ServiceLink, out api.Output) (api.ServiceLinkResult, error) {
	var res api.ServiceLinkResult
	var svc store.Service
	err := m.inLinkTx(ctx, req, func(tx *store.Tx, st linkState) error {
		if st.link == nil {
			return notLinked(st.app)
		}
		svc = st.svc
		res.Var = st.link.Var
		if err := tx.RemoveLink(st.svc, st.app); err != nil {
			return err
		}
		_, err := tx.UnsetConfig(st.app.Scope(), []string{res.Var})
		return err
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out.Stdout, "-----> Unsetting %s\n", res.Var)
	m.log.Info("service unlinked", "kind", req.Kind, "name", req.Name, "app", req.App, "var", res.Var)
	m.unlinkNetwork(ctx, svc, req.App, out)
	return res, m.restartLinked(ctx, req.App, req.NoRestart, out)
}

// linkState is what a link command reads in its transaction.
type linkState struct {
	svc   store.Service
	app   store.App
	links []store.Link // all of the app's links
	link  *store.Link  // this service's among them; nil when not linked
}

// inLinkTx runs fn in a transaction with the service, the app and their
// links of a link, unlink or promote request.
func (m *Manager) inLinkTx(ctx context.Context, req api.ServiceLink, fn func(tx *store.Tx, st linkState) error) error {
	return m.store.Tx(ctx, func(tx *store.Tx) error {
		var st linkState
		var err error
		if st.svc, err = m.getService(tx, req.ServiceRef); err != nil {
			return err
		}
		if st.app, err = apierr.App(tx, req.App); err != nil {
			return err
		}
		if st.links, err = tx.AppLinks(st.app); err != nil {
			return err
		}
		for i := range st.links {
			if st.links[i].Service.ID == st.svc.ID {
				st.link = &st.links[i]
			}
		}
		return fn(tx, st)
	})
}

func notLinked(a store.App) error {
	return api.Errorf(api.CodeInvalid, "Not linked to app %s", a.Name)
}

// servicePromote makes a linked service the app's primary one (DATABASE_URL
// or REDIS_URL); the service that held it moves to a color variable.
func (m *Manager) servicePromote(ctx context.Context, req api.ServiceLink, out api.Output) (api.ServiceLinkResult, error) {
	sk, err := kindOf(req.Kind)
	if err != nil {
		return api.ServiceLinkResult{}, err
	}
	res := api.ServiceLinkResult{Var: sk.envVar}
	err = m.inLinkTx(ctx, req, func(tx *store.Tx, st linkState) error {
		if st.link == nil {
			return notLinked(st.app)
		}
		l, a := *st.link, st.app
		if l.Var == sk.envVar {
			return api.Errorf(api.CodeInvalid, "%s is already promoted as %s", req.Name, sk.envVar)
		}
		vars, err := tx.Config(a.Scope())
		if err != nil {
			return err
		}
		set := map[string]string{sk.envVar: linkURL(sk, l, vars)}
		for _, other := range st.links {
			if other.Var == sk.envVar {
				// The old primary takes the promoted one's color variable.
				if err := tx.SetLinkVar(other.Service, a, l.Var); err != nil {
					return err
				}
				set[l.Var] = linkURL(sk, other, vars)
			}
		}
		if _, moved := set[l.Var]; !moved {
			if _, err := tx.UnsetConfig(a.Scope(), []string{l.Var}); err != nil {
				return err
			}
		}
		fmt.Fprintf(out.Stdout, "-----> Promoting %s to %s on %s\n", req.Name, sk.envVar, req.App)
		if err := tx.SetLinkVar(st.svc, a, sk.envVar); err != nil {
			return err
		}
		return tx.SetConfig(a.Scope(), set)
	})
	if err != nil {
		return res, err
	}
	return res, m.restartLinked(ctx, req.App, req.NoRestart, out)
}

func (m *Manager) serviceAppLinks(ctx context.Context, req api.AppServiceRef, _ api.Output) (api.AppServiceLinks, error) {
	res := api.AppServiceLinks{Links: []api.AppServiceLink{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		links, err := tx.AppLinks(a)
		for _, l := range links {
			if req.Kind == "" || l.Service.Kind == req.Kind {
				res.Links = append(res.Links, api.AppServiceLink{Kind: l.Service.Kind, Name: l.Service.Name, Var: l.Var})
			}
		}
		return err
	})
	return res, err
}
