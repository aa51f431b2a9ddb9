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

// registerRedirects adds the redirect:* operations to mux.
func (m *Manager) registerRedirects(mux *api.Mux) {
	api.Handle(mux, api.RedirectsSet, m.redirectSet)
	api.Handle(mux, api.RedirectsUnset, m.redirectUnset)
	api.Handle(mux, api.RedirectsList, func(ctx context.Context, req api.AppRef, _ api.Output) (api.RedirectList, error) {
		res := api.RedirectList{Redirects: []api.RedirectInfo{}}
		err := m.store.Tx(ctx, func(tx *store.Tx) error {
			a, err := apierr.App(tx, req.App)
			if err != nil {
				return err
			}
			rs, err := tx.Redirects(a)
			for _, r := range rs {
				res.Redirects = append(res.Redirects, api.RedirectInfo{Src: r.Src, Dest: r.Dest, Code: r.Code})
			}
			return err
		})
		return res, err
	})
}

// redirectOf checks a redirect:set request and returns the redirect it
// asks for: lower-case host names, different from each other, and a
// redirect status (301 when none is given).
func redirectOf(req api.RedirectSet) (store.Redirect, error) {
	src, dest := strings.ToLower(req.Src), strings.ToLower(req.Dest)
	if src == "" || dest == "" {
		return store.Redirect{}, api.Errorf(api.CodeInvalid, "Please provide a source domain and a destination")
	}
	for _, d := range []string{src, dest} {
		if err := app.ValidateDomain(d); err != nil {
			return store.Redirect{}, apierr.Invalid(err)
		}
	}
	if src == dest {
		return store.Redirect{}, api.Errorf(api.CodeInvalid, "The source and destination domains are the same")
	}
	code := req.Code
	if code == 0 {
		code = 301
	}
	if !slices.Contains([]int{301, 302, 303, 307, 308}, code) {
		return store.Redirect{}, api.Errorf(api.CodeInvalid, "Invalid redirect code %d: use 301, 302, 303, 307 or 308", code)
	}
	return store.Redirect{Src: src, Dest: dest, Code: code}, nil
}

func (m *Manager) redirectSet(ctx context.Context, req api.RedirectSet, _ api.Output) (api.Empty, error) {
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		// The app first, then the arguments (Dokku's order).
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		r, err := redirectOf(req)
		if err != nil {
			return err
		}
		src := r.Src
		// The seed redirects one of the app's own domains (the bare one to
		// www): that is allowed, the redirect wins over routing. Another
		// app's domain is not.
		if owner, ok, err := tx.DomainOwner(src); err != nil {
			return err
		} else if ok && owner != a.Name {
			return api.Errorf(api.CodeConflict, "%s is a domain of %s: remove it there first (domains:remove %s %s)", src, owner, owner, src)
		}
		if err := checkWildcards(tx, a, []string{src}); err != nil {
			return err
		}
		if err := tx.AddRedirect(a, r); errors.Is(err, store.ErrRedirectTaken) {
			return api.Errorf(api.CodeConflict, "Source domain is already redirected")
		} else if err != nil {
			return err
		}
		return nil
	})
	if err == nil {
		m.Notify(ctx, req.App)
	}
	return api.Empty{}, err
}

func (m *Manager) redirectUnset(ctx context.Context, req api.RedirectSet, _ api.Output) (api.Empty, error) {
	src := strings.ToLower(req.Src)
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		if src == "" {
			return api.Errorf(api.CodeInvalid, "Please provide a source domain")
		}
		ok, err := tx.RemoveRedirect(a, src)
		if err == nil && !ok {
			return api.Errorf(api.CodeNotFound, "No redirect from %s on %s", src, req.App)
		}
		return err
	})
	if err == nil {
		m.Notify(ctx, req.App)
	}
	return api.Empty{}, err
}
