package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/store"
)

// MaskScript is where a repository keeps the SQL run against a preview's
// Postgres copies after the restore (docs/previews.md).
const MaskScript = ".berth/preview-mask.sql"

// RevVar is the config var a preview's deploy sets to the pushed commit.
const RevVar = "GIT_REV"

// pushed is what the store says about a pushed branch before its deploy.
type pushed struct {
	parent  store.App
	preview store.Preview
	isNew   bool
	scope   []string // the pushing key's apps; nil: admin
}

// deploy makes or updates the preview of a pushed branch and deploys the
// pushed tree into it (previews.deploy, called by the push hook).
func (m *Manager) deploy(ctx context.Context, req api.PreviewDeploy, sess *api.Session) (api.PreviewDeployResult, error) {
	var res api.PreviewDeployResult
	out := sess.Stdout
	if out == nil {
		out = io.Discard
	}
	if req.Branch == "" {
		return res, api.Errorf(api.CodeInvalid, "Please specify the branch of the preview")
	}
	var review appfile.ReviewEnvironment
	if strings.TrimSpace(req.AppJSON) != "" {
		aj, err := appfile.ParseAppJSON([]byte(req.AppJSON))
		if err != nil {
			return res, api.Errorf(api.CodeInvalid, "%v", err)
		}
		if aj.Review != nil {
			review = *aj.Review
		}
	}
	name, slug, err := AppName(req.App, req.Branch)
	if err != nil {
		return res, apierr.Invalid(err)
	}
	defer m.lock(req.App, req.Branch)()
	st, err := m.plan(ctx, req, name)
	if err != nil {
		return res, err
	}
	p := st.preview
	if st.isNew {
		fmt.Fprintf(out, "-----> Creating preview app %s of %s (branch %s)\n", name, req.App, req.Branch)
		if err := m.create(ctx, &p, slug, review, strings.TrimSpace(req.MaskSQL) != "", out); err != nil {
			return res, partly(err, req)
		}
	}
	if strings.TrimSpace(req.MaskSQL) != "" && st.isNew {
		if err := m.mask(ctx, p, req.MaskSQL, out); err != nil {
			return res, partly(err, req)
		}
	}
	// GIT_REV is the pushed commit (as a push to an app sets it); review
	// values are set again at each push (secrets stay as first generated).
	vars := map[string]string{RevVar: req.Rev}
	if !st.isNew {
		for k, spec := range review.Env {
			if spec.Value != nil {
				vars[k] = *spec.Value
			}
		}
	}
	if err := m.config.SetVars(ctx, p.App, vars); err != nil {
		return res, err
	}
	if st.isNew {
		if f := formation(review); len(f) > 0 {
			if err := m.deployer.Scale(ctx, p.App, f); err != nil {
				return res, fmt.Errorf("environments.review.formation: %w", err)
			}
		}
	}
	holder := "a git push of branch " + req.Branch + " of " + req.App
	if req.Key != "" {
		holder += " by key " + req.Key
	}
	var apps []string
	if st.scope != nil {
		apps = append(append(apps, st.scope...), p.App)
	}
	rel, err := m.deployer.Deploy(ctx, Deploy{App: p.App, Branch: req.Branch, Rev: req.Rev, Holder: holder, Tree: sess.Stdin, Apps: apps}, out)
	res.App, res.Release = p.App, rel
	if err != nil {
		return res, err
	}
	if st.isNew {
		m.enableTLS(ctx, p, out)
	}
	if review.Postdeploy != "" && !p.PostdeployDone {
		fmt.Fprintf(out, "-----> Running environments.review.scripts.postdeploy in %s\n", p.App)
		if err := m.deployer.Run(ctx, p.App, review.Postdeploy, out); err != nil {
			return res, fmt.Errorf("the preview's postdeploy script failed: %w", err)
		}
		p.PostdeployDone = true
	}
	if u, err := m.domains.URL(ctx, p.App); err == nil && u != "" {
		p.URL = u
	}
	p.PushedAt = m.now()
	p.Predestroy = review.PrPredestroy
	if err := m.store.Tx(ctx, func(tx *store.Tx) error { return tx.SavePreview(p) }); err != nil {
		return res, err
	}
	res.URL = p.URL
	fmt.Fprintf(out, "=====> Preview of %s's branch %s: %s\n", req.App, req.Branch, orNone(p.URL))
	return res, nil
}

// partly is the one line of a preview made in part: the whole error (an
// API error's code kept) and how to remove what was made.
func partly(err error, req api.PreviewDeploy) error {
	code := api.CodeInternal
	var ae *api.Error
	if errors.As(err, &ae) {
		code = ae.Code
	}
	return api.Errorf(code, "%v (previews:destroy %s %s removes what was made)", err, req.App, req.Branch)
}

// formation is environments.review.formation's quantities.
func formation(review appfile.ReviewEnvironment) map[string]int {
	f := map[string]int{}
	for typ, spec := range review.Formation {
		if spec.Quantity != nil {
			f[typ] = *spec.Quantity
		}
	}
	return f
}

func orNone(u string) string {
	if u == "" {
		return "(no domain: set one with domains:set-global)"
	}
	return u
}

// plan checks the push and reads (or starts) the preview's record.
func (m *Manager) plan(ctx context.Context, req api.PreviewDeploy, name string) (pushed, error) {
	var st pushed
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := apierr.App(tx, req.App)
		if err != nil {
			return err
		}
		st.parent = a
		s, err := tx.PreviewSettings(a)
		if err != nil {
			return err
		}
		if !s.Enabled {
			return api.Errorf(api.CodeInvalid, "Previews are not enabled for %s (previews:enable %s)", a.Name, a.Name)
		}
		if err := notPreview(tx, a); err != nil {
			return err
		}
		if st.scope, err = keyScope(tx, req.Key, a.Name); err != nil {
			return err
		}
		p, err := tx.Preview(a.Name, req.Branch)
		switch {
		case err == nil:
			st.preview = p
			return nil
		case !errors.Is(err, store.ErrPreviewNotFound):
			return err
		}
		if _, err := tx.App(name); err == nil {
			return api.Errorf(api.CodeConflict, "App %s exists and is not a preview of %s; rename it or push another branch", name, a.Name)
		} else if !errors.Is(err, store.ErrAppNotFound) {
			return err
		}
		st.isNew = true
		now := m.now()
		st.preview = store.Preview{Parent: a.Name, App: name, Branch: req.Branch, CreatedAt: now, PushedAt: now}
		return nil
	})
	return st, err
}

// keyScope is the apps a pushing key may touch, or nil for an admin key
// (or no key: the daemon's own socket).
func keyScope(tx *store.Tx, key, parent string) ([]string, error) {
	if key == "" {
		return nil, nil
	}
	k, err := tx.KeyByName(key)
	if errors.Is(err, store.ErrKeyNotFound) {
		return []string{parent}, nil
	}
	if err != nil || k.Admin {
		return nil, err
	}
	return append([]string{}, k.Apps...), nil
}

// create makes the preview app: record, config, domain, services. The
// record is saved first and after each service, so a preview that failed
// part-way can still be destroyed whole.
func (m *Manager) create(ctx context.Context, p *store.Preview, slug string, review appfile.ReviewEnvironment, masking bool, out io.Writer) error {
	if err := m.apps.CreateApp(ctx, p.App); err != nil {
		return err
	}
	save := func() error { return m.store.Tx(ctx, func(tx *store.Tx) error { return tx.SavePreview(*p) }) }
	if err := save(); err != nil {
		return err
	}
	links, err := m.services.Links(ctx, p.Parent)
	if err != nil {
		return err
	}
	vars, err := m.config.Vars(ctx, p.Parent)
	if err != nil {
		return err
	}
	var linkVars []string
	for _, l := range links {
		linkVars = append(linkVars, l.Var)
	}
	merged := MergeConfig(vars, linkVars, review.Env, p.Parent, p.Branch)
	if err := m.config.SetVars(ctx, p.App, merged); err != nil {
		return err
	}
	fmt.Fprintf(out, "       Copied %d config vars of %s\n", len(merged), p.Parent)
	if err := m.setDomain(ctx, p, slug, out); err != nil {
		return err
	}
	for _, l := range links {
		name, err := ServiceName(l.Name, slug)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "-----> Copying %s service %s as %s\n", l.Kind, l.Name, name)
		p.Services = append(p.Services, l.Kind+"/"+name)
		from, fresh, err := m.services.Copy(ctx, l, name, m.freshDir(), out)
		if serr := save(); err == nil {
			err = serr
		}
		if err != nil {
			return fmt.Errorf("copy %s service %s: %w", l.Kind, l.Name, err)
		}
		if fresh {
			fmt.Fprintf(out, "       %s had no backup in its backup target: took a fresh backup, restored it and removed it\n", l.Name)
		} else {
			fmt.Fprintf(out, "       Restored from %s's latest backup %s\n", l.Name, from)
		}
		if err := m.services.Link(ctx, l.Kind, name, p.App, l.Var); err != nil {
			return fmt.Errorf("link %s service %s to %s: %w", l.Kind, name, p.App, err)
		}
	}
	if masking && !hasPostgres(p.Services) {
		fmt.Fprintf(out, "       %s: %s has no Postgres service to mask\n", MaskScript, p.Parent)
	}
	return nil
}

func hasPostgres(services []string) bool {
	for _, s := range services {
		if strings.HasPrefix(s, "postgres/") {
			return true
		}
	}
	return false
}

// mask runs the repository's masking script against each Postgres copy.
func (m *Manager) mask(ctx context.Context, p store.Preview, script string, out io.Writer) error {
	for _, s := range p.Services {
		kind, name, _ := strings.Cut(s, "/")
		if kind != "postgres" {
			continue
		}
		fmt.Fprintf(out, "-----> Masking %s with %s\n", name, MaskScript)
		if err := m.services.RunScript(ctx, kind, name, script, out); err != nil {
			return fmt.Errorf("%s in %s: %w", MaskScript, name, err)
		}
	}
	return nil
}

// setDomain gives the preview its domain (Domain's rule).
func (m *Manager) setDomain(ctx context.Context, p *store.Preview, slug string, out io.Writer) error {
	global, err := m.domains.GlobalDomains(ctx)
	if err != nil {
		return err
	}
	parentDomains, err := m.domains.AppDomains(ctx, p.Parent)
	if err != nil {
		return err
	}
	d := Domain(slug, p.Parent, global, parentDomains)
	if d == "" {
		fmt.Fprintf(out, "       No global domain and %s has none: the preview keeps its default domains\n", p.Parent)
		return nil
	}
	if err := m.domains.SetDomains(ctx, p.App, []string{d}); err != nil {
		return err
	}
	fmt.Fprintf(out, "       Domain %s\n", d)
	return nil
}

// enableTLS enables Let's Encrypt on a new preview whose parent has it; a
// failure is a warning (the preview serves plain HTTP until
// letsencrypt:enable succeeds).
func (m *Manager) enableTLS(ctx context.Context, p store.Preview, out io.Writer) {
	on, err := m.domains.LetsEncrypt(ctx, p.Parent)
	if err != nil || !on {
		return
	}
	fmt.Fprintf(out, "-----> Enabling Let's Encrypt for %s (as %s has it)\n", p.App, p.Parent)
	if err := m.domains.EnableLetsEncrypt(ctx, p.App, out); err != nil {
		fmt.Fprintf(out, " !     Let's Encrypt for %s failed: %v; run letsencrypt:enable %s to retry\n", p.App, err, p.App)
	}
}
