package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/preview"
	"github.com/berthpaas/berth/internal/services"
	"github.com/berthpaas/berth/internal/store"
)

// PreviewSweepInterval is how often expired preview apps are destroyed.
const PreviewSweepInterval = 5 * time.Minute

// newPreviews builds preview apps (previews:*) over the daemon's own
// operations: apps, config, domains, Let's Encrypt and services are
// called in-process on mux as the daemon (the local root), the pushed
// tree goes to the deployer, backups are copied by the services' Manager.
func newPreviews(st *store.Store, dataDir string, log *slog.Logger, mux *api.Mux, d *deploy.Deployer, svcs *services.Manager) *preview.Manager {
	ops := previewOps{mux: mux, st: st, d: d, svcs: svcs}
	return preview.New(preview.Config{
		Store: st, Apps: ops, Config: ops, Domains: ops, Services: ops, Deployer: ops,
		DataDir: filepath.Join(dataDir, "previews"), Log: log,
	})
}

// quiet is the output of the in-process calls whose lines the push does
// not show (handlers may write to it: it must not be nil).
var quiet = api.Output{Stdout: io.Discard, Stderr: io.Discard}

// previewOps fills every interface of package preview.
type previewOps struct {
	mux  *api.Mux
	st   *store.Store
	d    *deploy.Deployer
	svcs *services.Manager
}

func (o previewOps) CreateApp(ctx context.Context, name string) error {
	_, err := api.AppsCreate.Stream(ctx, o.mux, api.AppRef{App: name}, quiet)
	return err
}

func (o previewOps) DestroyApp(ctx context.Context, name string) error {
	_, err := api.AppsDestroy.Stream(ctx, o.mux, api.AppRef{App: name}, quiet)
	return err
}

func (o previewOps) Vars(ctx context.Context, app string) (map[string]string, error) {
	v, err := api.ConfigGet.Stream(ctx, o.mux, api.ConfigRequest{Scope: api.Scope{App: app}}, quiet)
	return v.Vars, err
}

func (o previewOps) SetVars(ctx context.Context, app string, vars map[string]string) error {
	_, err := api.ConfigUpdate.Stream(ctx, o.mux, api.ConfigChange{Scope: api.Scope{App: app}, Set: vars, NoRestart: true}, quiet)
	return err
}

func (o previewOps) GlobalDomains(ctx context.Context) ([]string, error) {
	r, err := api.DomainsReportOp.Stream(ctx, o.mux, api.DomainsReportRequest{Global: true}, quiet)
	if err != nil || len(r.Reports) == 0 {
		return nil, err
	}
	return r.Reports[0].GlobalVhosts, nil
}

func (o previewOps) AppDomains(ctx context.Context, app string) ([]string, error) {
	r, err := api.DomainsReportOp.Stream(ctx, o.mux, api.DomainsReportRequest{App: app}, quiet)
	if err != nil || len(r.Reports) == 0 {
		return nil, err
	}
	return r.Reports[0].AppVhosts, nil
}

func (o previewOps) SetDomains(ctx context.Context, app string, domains []string) error {
	_, err := api.DomainsUpdate.Stream(ctx, o.mux, api.DomainsChange{Scope: api.Scope{App: app}, Action: api.DomainsSet, Domains: domains}, quiet)
	return err
}

func (o previewOps) URL(ctx context.Context, app string) (string, error) {
	r, err := api.DomainsURLs.Stream(ctx, o.mux, api.AppRef{App: app}, quiet)
	if err != nil || len(r.URLs) == 0 {
		return "", err
	}
	return r.URLs[0], nil
}

func (o previewOps) LetsEncrypt(ctx context.Context, app string) (bool, error) {
	on := false
	err := o.st.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(app)
		if err != nil {
			return err
		}
		v, _, err := tx.Property(a.Scope(), "letsencrypt", "enabled")
		on = v == "true"
		return err
	})
	return on, err
}

func (o previewOps) EnableLetsEncrypt(ctx context.Context, app string, out io.Writer) error {
	_, err := api.LEEnable.Stream(ctx, o.mux, api.PSRequest{App: app}, api.Output{Stdout: out, Stderr: out})
	return err
}

func (o previewOps) Links(ctx context.Context, app string) ([]preview.Link, error) {
	r, err := api.ServicesAppLinks.Stream(ctx, o.mux, api.AppServiceRef{App: app}, quiet)
	var links []preview.Link
	for _, l := range r.Links {
		links = append(links, preview.Link{Kind: l.Kind, Name: l.Name, Var: l.Var})
	}
	return links, err
}

func (o previewOps) Copy(ctx context.Context, src preview.Link, name, freshDir string, out io.Writer) (string, bool, error) {
	ref := api.ServiceRef{Kind: src.Kind, Name: src.Name}
	info, err := api.ServicesInfo.Stream(ctx, o.mux, ref, quiet)
	if err != nil {
		return "", false, err
	}
	image, version, _ := strings.Cut(info.Image, ":")
	if version == "" {
		version = info.Version
	}
	dst := api.ServiceRef{Kind: src.Kind, Name: name}
	if _, err := api.ServicesCreate.Stream(ctx, o.mux, api.ServiceCreate{ServiceRef: dst, Image: image, ImageVersion: version}, api.Output{Stdout: out, Stderr: out}); err != nil {
		return "", false, err
	}
	r, err := o.svcs.RestoreLatestBackup(ctx, ref, dst, freshDir, api.Output{Stdout: out, Stderr: out})
	return r.From, r.Fresh, err
}

func (o previewOps) RunScript(ctx context.Context, kind, name, script string, out io.Writer) error {
	return o.svcs.RunScript(ctx, api.ServiceRef{Kind: kind, Name: name}, script, api.Output{Stdout: out, Stderr: out})
}

func (o previewOps) Link(ctx context.Context, kind, name, app, varName string) error {
	_, err := api.ServicesLink.Stream(ctx, o.mux, api.ServiceLink{ServiceRef: api.ServiceRef{Kind: kind, Name: name}, App: app, Alias: varName, NoRestart: true}, quiet)
	return err
}

func (o previewOps) Destroy(ctx context.Context, kind, name string) error {
	_, err := api.ServicesDestroy.Stream(ctx, o.mux, api.ServiceRef{Kind: kind, Name: name}, quiet)
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return nil
	}
	return err
}

func (o previewOps) Deploy(ctx context.Context, p preview.Deploy, out io.Writer) (int, error) {
	rel, err := o.d.Deploy(ctx, p.App, deploy.Source{Kind: deploy.SourceGit, Archive: p.Tree, Ref: p.Branch, GitRev: p.Rev, Apps: p.Apps}, out, p.Holder)
	return rel.Number, err
}

func (o previewOps) Run(ctx context.Context, app, script string, out io.Writer) error {
	res, err := api.Run.Run(ctx, o.mux, api.RunRequest{App: app, Cmd: []string{"/bin/sh", "-c", script}, Quiet: true},
		&api.Session{Stdin: strings.NewReader(""), Stdout: out, Stderr: out})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("exit code %d", res.ExitCode)
	}
	return err
}

func (o previewOps) Scale(ctx context.Context, app string, formation map[string]int) error {
	_, err := api.PSScale.Stream(ctx, o.mux, api.ScaleRequest{App: app, Changes: formation, SkipDeploy: true}, quiet)
	return err
}
