package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/store"
)

// destroyOp is previews.destroy: previews:destroy APP BRANCH, and the push
// hook for a deleted branch (Key set), where a branch without a preview is
// no error.
func (m *Manager) destroyOp(ctx context.Context, req api.PreviewRef, out api.Output) error {
	w := out.Stdout
	if w == nil {
		w = io.Discard
	}
	var p store.Preview
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		if _, err := apierr.App(tx, req.App); err != nil {
			return err
		}
		var err error
		p, err = tx.Preview(req.App, req.Branch)
		return err
	})
	if errors.Is(err, store.ErrPreviewNotFound) {
		if req.Pushed {
			return nil
		}
		return api.Errorf(api.CodeNotFound, "%s has no preview of branch %s (previews:list %s)", req.App, req.Branch, req.App)
	}
	if err != nil {
		return err
	}
	return m.Destroy(ctx, p, w)
}

// Destroy destroys a preview: its pr-predestroy script first (a failure
// is reported, not fatal), then its services, then the app.
func (m *Manager) Destroy(ctx context.Context, p store.Preview, out io.Writer) error {
	defer m.lock(p.Parent, p.Branch)()
	fmt.Fprintf(out, "-----> Destroying preview app %s (%s's branch %s)\n", p.App, p.Parent, p.Branch)
	if p.Predestroy != "" {
		fmt.Fprintf(out, "-----> Running environments.review.scripts.pr-predestroy in %s\n", p.App)
		if err := m.deployer.Run(ctx, p.App, p.Predestroy, out); err != nil {
			fmt.Fprintf(out, " !     pr-predestroy failed: %v; destroying anyway\n", err)
		}
	}
	var errs []error
	if err := m.apps.DestroyApp(withDestroying(ctx, p.App), p.App); err != nil && !errors.Is(err, api.ErrAppNotFound) {
		errs = append(errs, fmt.Errorf("destroy app %s: %w", p.App, err))
	}
	for _, s := range p.Services {
		kind, name, _ := strings.Cut(s, "/")
		if err := m.services.Destroy(ctx, kind, name); err != nil {
			errs = append(errs, fmt.Errorf("destroy %s service %s: %w", kind, name, err))
			continue
		}
		fmt.Fprintf(out, "       Destroyed %s service %s\n", kind, name)
	}
	if err := m.store.Tx(ctx, func(tx *store.Tx) error { _, err := tx.DeletePreview(p.Parent, p.Branch); return err }); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Fprintf(out, "=====> Preview %s destroyed\n", p.App)
	return nil
}

// destroyingKey marks the context of Destroy's own apps:destroy of the
// preview app, which DestroyIfPreview then leaves to the usual path.
type destroyingKey struct{}

func withDestroying(ctx context.Context, app string) context.Context {
	return context.WithValue(ctx, destroyingKey{}, app)
}

// DestroyIfPreview is apps:destroy's question for an app about to go: a
// preview app goes whole, as previews:destroy does it (its pr-predestroy
// script, the app, its own services, its record); the answer is true
// then. Any other app is left to apps:destroy (false).
func (m *Manager) DestroyIfPreview(ctx context.Context, app string, out io.Writer) (bool, error) {
	if v, _ := ctx.Value(destroyingKey{}).(string); v == app {
		return false, nil
	}
	var p store.Preview
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		p, err = tx.PreviewOf(app)
		return err
	})
	if errors.Is(err, store.ErrPreviewNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, m.Destroy(ctx, p, out)
}

// DestroyPreviewsOf destroys every preview of parent, for apps:destroy of
// the parent: a preview without its parent would be an orphan no push
// reaches.
func (m *Manager) DestroyPreviewsOf(ctx context.Context, parent string, out io.Writer) error {
	var ps []store.Preview
	if err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		ps, err = tx.Previews(parent)
		return err
	}); err != nil {
		return err
	}
	for _, p := range ps {
		if err := m.Destroy(ctx, p, out); err != nil {
			return fmt.Errorf("preview %s of %s: %w", p.App, parent, err)
		}
	}
	return nil
}

// due lists the previews past their parent's expiry at now.
func due(ps []store.Preview, settings map[string]store.PreviewSettings, now time.Time) []store.Preview {
	var out []store.Preview
	for _, p := range ps {
		if Expired(p.PushedAt, settings[p.Parent].Expire, now) {
			out = append(out, p)
		}
	}
	return out
}

// Sweep destroys every preview past its expiry; it returns how many it
// destroyed.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	var ps []store.Preview
	settings := map[string]store.PreviewSettings{}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if ps, err = tx.Previews(""); err != nil {
			return err
		}
		for _, p := range ps {
			if _, ok := settings[p.Parent]; ok {
				continue
			}
			a, err := tx.App(p.Parent)
			if err != nil {
				return err
			}
			if settings[p.Parent], err = tx.PreviewSettings(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, p := range due(ps, settings, m.now()) {
		m.log.Info("preview expired", "app", p.App, "parent", p.Parent, "branch", p.Branch, "pushed", p.PushedAt)
		if err := m.Destroy(ctx, p, io.Discard); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Run sweeps expired previews every interval until ctx ends.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := m.Sweep(ctx); err != nil {
				m.log.Error("preview expiry sweep", "err", err)
			}
		}
	}
}
