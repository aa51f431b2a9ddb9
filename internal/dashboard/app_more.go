package dashboard

import (
	"context"
	"net/http"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/httpapi"
)

// certView is an app's certificate as its page shows it.
type certView struct {
	api.CertInfo
	DaysLeft    int
	Expiring    bool // under 14 days left
	ACME        bool // Let's Encrypt manages it
	NextRenewal time.Time
	ACMEError   string
}

// appExtras adds to an app's page its domains and certificate, its
// checks' settings and what each release changed; each part that cannot
// be read (an op refused to this caller, or missing) is left out.
func (h *Handler) appExtras(ctx context.Context, c *reqCtx, name string, data map[string]any) {
	if rs, err := api.DomainsReportOp.Call(ctx, c.caller, api.DomainsReportRequest{App: name}); err == nil && len(rs.Reports) > 0 {
		data["Domains"] = rs.Reports[0].AppVhosts
		data["DomainsEnabled"] = rs.Reports[0].AppEnabled
	}
	if ci, err := api.CertsInfo.Call(ctx, c.caller, api.CertShow{App: name}); err == nil {
		cv := certView{CertInfo: ci, ACMEError: ci.LastError}
		if ci.Enabled {
			cv.DaysLeft = int(time.Until(ci.NotAfter).Hours() / 24)
			cv.Expiring = time.Until(ci.NotAfter) < 14*24*time.Hour
		}
		if c.p.Admin {
			if le, err := api.LEList.Call(ctx, c.caller, api.Empty{}); err == nil {
				for _, e := range le.Apps {
					if e.App == name {
						cv.ACME, cv.NextRenewal = true, e.NextRenewal
						if e.LastError != "" {
							cv.ACMEError = e.LastError
						}
					}
				}
			}
		}
		data["Cert"] = cv
	}
	if pv, err := api.PropertiesReport.Call(ctx, c.caller, api.PropertyReport{Scope: api.Scope{App: name}, Namespace: "checks"}); err == nil {
		data["Checks"] = pv.Fields
	}
}

// releaseChanges reads what each release changed, by number.
func (h *Handler) releaseChanges(ctx context.Context, c *reqCtx, name string) map[int]api.ReleaseChange {
	out := map[int]api.ReleaseChange{}
	rc, err := api.ReleasesChanges.Call(ctx, c.caller, api.AppRef{App: name})
	if err != nil {
		return out
	}
	for _, r := range rc.Releases {
		out[r.Number] = r
	}
	return out
}

// runChecks streams checks:run's output as server-sent events (read by
// fetch, since it is a POST).
func (h *Handler) runChecks(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	httpapi.ServeEvents(w, r, c.caller, api.ChecksRun.Name, api.ChecksRequest{App: r.PathValue("app")})
}

// deployStream is the output of the app's running deploy, or the next
// one's, whoever started it (a git push), as server-sent events; the
// browser reconnects after each to wait for the next.
func (h *Handler) deployStream(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	w.Header().Set("Cache-Control", "no-store")
	httpapi.ServeEvents(w, r, c.caller, api.DeploysFollow.Name, api.DeployFollow{App: r.PathValue("app"), Wait: true})
}
