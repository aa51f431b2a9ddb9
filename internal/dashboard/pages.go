package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/httpapi"
)

var funcs = template.FuncMap{
	"ago":       ago,
	"sparkline": sparkline,
	"short": func(s string) string {
		if len(s) > 10 {
			return s[:10]
		}
		return s
	},
	"join":   strings.Join,
	"size":   size,
	"hostOf": hostOf,
	"ms":     ms,
}

func parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "overview", "app", "config", "events", "settings", "error", "services", "service"} {
		pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

func (h *Handler) render(w http.ResponseWriter, status int, page string, data map[string]any) {
	var buf bytes.Buffer
	if err := h.pages[page].Execute(&buf, data); err != nil {
		h.cfg.Log.Error("dashboard: render", "page", page, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// page renders a logged-in page with the layout's data.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, c *reqCtx, name string, data map[string]any) {
	data["User"] = c.p.Name
	data["Admin"] = c.p.Admin
	data["ReadOnly"] = c.p.ReadOnly
	data["CSRF"] = c.csrf
	data["Flash"] = r.URL.Query().Get("flash")
	data["FlashError"] = r.URL.Query().Get("error")
	h.render(w, http.StatusOK, name, data)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, msg string) {
	h.render(w, status, "error", map[string]any{"User": c.p.Name, "Admin": c.p.Admin, "CSRF": c.csrf, "Error": msg})
}

func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	var e *api.Error
	status := http.StatusInternalServerError
	if errors.As(err, &e) {
		status = httpapi.StatusOf(e.Code)
	}
	h.fail(w, r, c, status, firstLine(err.Error()))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// back redirects to the app's page (or path) with a message.
func back(w http.ResponseWriter, r *http.Request, path, flash string, err error) {
	q := url.Values{}
	if err != nil {
		q.Set("error", firstLine(err.Error()))
	} else if flash != "" {
		q.Set("flash", flash)
	}
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + q.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// appRow is one app in the overview.
type appRow struct {
	Name     string
	Status   string
	Class    string // ok, warn, off
	Release  int
	URLs     []string
	Requests template.HTML
	Errors   template.HTML
	Rate     string
}

// status words a ps:report: not deployed, stopped, running N/M.
func status(r api.PSReport) (string, string) {
	if !r.Deployed {
		return "not deployed", "off"
	}
	if r.Stopped {
		return "stopped", "off"
	}
	if r.EngineError != "" {
		return "engine error", "warn"
	}
	want := 0
	for _, n := range r.Formation {
		want += n
	}
	up := 0
	for _, ct := range r.Containers {
		if ct.State == "running" {
			up++
		}
	}
	if up < want || up == 0 {
		return fmt.Sprintf("running %d/%d", up, want), "warn"
	}
	return fmt.Sprintf("running %d/%d", up, want), "ok"
}

// metricsRequest and appMetrics are metrics.app's request and the part of
// its answer the dashboard draws (the op may be missing: no sparklines).
type metricsRequest struct {
	App     string `json:"app"`
	Minutes int    `json:"minutes,omitempty"`
}

func (r metricsRequest) AppName() string { return r.App }

type appMetrics struct {
	Releases []struct {
		Requests uint64 `json:"requests"`
	} `json:"releases"`
	Points []struct {
		RequestRate float64 `json:"request_rate"`
		ErrorRate   float64 `json:"error_rate"`
	} `json:"points"`
}

func (h *Handler) metrics(ctx context.Context, c *reqCtx, app string) (req, errs []float64, ok bool) {
	req, errs, _, ok = h.metricsTotal(ctx, c, app)
	return req, errs, ok
}

// metricsTotal is metrics, and the requests the proxy answered for the
// app since the daemon started.
func (h *Handler) metricsTotal(ctx context.Context, c *reqCtx, app string) (req, errs []float64, total uint64, ok bool) {
	var m appMetrics
	if err := c.caller.Call(ctx, "metrics.app", metricsRequest{App: app, Minutes: 60}, &m, api.Output{}); err != nil {
		return nil, nil, 0, false
	}
	for _, p := range m.Points {
		req = append(req, p.RequestRate)
		errs = append(errs, p.ErrorRate)
	}
	for _, r := range m.Releases {
		total += r.Requests
	}
	return req, errs, total, true
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ctx := r.Context()
	list, err := api.AppsList.Call(ctx, c.caller, api.Empty{})
	if err != nil {
		h.failErr(w, r, c, err)
		return
	}
	// Each app's report asks the engine: the apps are asked at once (at
	// most 8 at a time), not one after the other.
	rows := make([]appRow, len(list.Apps))
	metered := make([]bool, len(list.Apps))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, a := range list.Apps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rows[i], metered[i] = h.appRow(ctx, c, a.Name)
		}()
	}
	wg.Wait()
	withMetrics := slices.Contains(metered, true)
	h.page(w, r, c, "overview", map[string]any{"Title": "Apps", "Apps": rows, "Metrics": withMetrics})
}

// appRow is one app's row of the overview, and whether it has metrics.
func (h *Handler) appRow(ctx context.Context, c *reqCtx, name string) (appRow, bool) {
	row := appRow{Name: name, Status: "unknown", Class: "warn"}
	if rs, err := api.PSReportOp.Call(ctx, c.caller, api.PSRequest{App: name}); err == nil && len(rs.Reports) > 0 {
		row.Status, row.Class = status(rs.Reports[0])
		row.Release = rs.Reports[0].Release
	}
	if u, err := api.DomainsURLs.Call(ctx, c.caller, api.AppRef{App: name}); err == nil {
		row.URLs = u.URLs
	}
	req, errs, ok := h.metrics(ctx, c, name)
	if ok {
		row.Requests, row.Errors = sparkline(req, "req"), sparkline(errs, "err")
		if len(req) > 0 {
			row.Rate = strconv.FormatFloat(req[len(req)-1], 'f', 1, 64) + " req/s"
		}
	}
	return row, ok
}

// proc is one process type of the app page.
type proc struct {
	Type       string
	Want       int
	Containers []api.ProcessStatus
}

// release is one row of the releases timeline.
type release struct {
	api.ReleaseInfo
	Who     string
	Current bool
	Change  api.ReleaseChange
}

func (h *Handler) appPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ctx, name := r.Context(), r.PathValue("app")
	rs, err := api.PSReportOp.Call(ctx, c.caller, api.PSRequest{App: name})
	if err != nil {
		h.failErr(w, r, c, err)
		return
	}
	data := map[string]any{"Title": name, "App": name}
	if len(rs.Reports) > 0 {
		rep := rs.Reports[0]
		data["Status"], data["Class"] = status(rep)
		data["Release"] = rep.Release
		data["CanScale"] = rep.CanScale
		var procs []proc
		for t, n := range rep.Formation {
			p := proc{Type: t, Want: n}
			for _, ct := range rep.Containers {
				if ct.Type == t {
					p.Containers = append(p.Containers, ct)
				}
			}
			procs = append(procs, p)
		}
		sort.Slice(procs, func(i, j int) bool { return procs[i].Type < procs[j].Type })
		data["Procs"] = procs
		if rl, err := api.ReleasesList.Call(ctx, c.caller, api.AppRef{App: name}); err == nil {
			who, changes := h.deployers(ctx, c, name), h.releaseChanges(ctx, c, name)
			var rels []release
			for _, ri := range rl.Releases {
				rel := release{ReleaseInfo: ri, Current: ri.Number == rep.Release, Who: who[ri.Number], Change: changes[ri.Number]}
				if rel.Who == "" {
					rel.Who = rel.Change.StartedBy
				}
				rels = append(rels, rel)
			}
			sort.Slice(rels, func(i, j int) bool { return rels[i].Number > rels[j].Number })
			data["Releases"] = rels
		}
	}
	if cv, err := api.ConfigGet.Call(ctx, c.caller, api.ConfigRequest{Scope: api.Scope{App: name}}); err == nil {
		keys := make([]string, 0, len(cv.Vars))
		for k := range cv.Vars {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		data["Vars"] = keys
	}
	if u, err := api.DomainsURLs.Call(ctx, c.caller, api.AppRef{App: name}); err == nil {
		data["URLs"] = u.URLs
	}
	if req, errs, total, ok := h.metricsTotal(ctx, c, name); ok {
		data["Requests"], data["Errors"], data["Served"] = sparkline(req, "req"), sparkline(errs, "err"), total
		if len(req) > 0 {
			data["Rate"] = strconv.FormatFloat(req[len(req)-1], 'f', 1, 64) + " req/s"
		}
	}
	h.appExtras(ctx, c, name, data)
	h.page(w, r, c, "app", data)
}

// deployers finds who made each release from the audit log, where it
// can: the newest deploying event before each release's time. A caller
// that may not read the log gets none.
func (h *Handler) deployers(ctx context.Context, c *reqCtx, app string) map[int]string {
	out := map[int]string{}
	ev, err := api.EventsList.Call(ctx, c.caller, api.EventsRequest{App: app, Limit: 200})
	if err != nil {
		return out
	}
	rl, err := api.ReleasesList.Call(ctx, c.caller, api.AppRef{App: app})
	if err != nil {
		return out
	}
	for _, rel := range rl.Releases {
		for _, e := range ev.Events { // newest first
			if !e.OK || !deploys(e.Op) {
				continue
			}
			start := e.Time.Add(-time.Duration(e.DurationMS)*time.Millisecond - time.Second)
			if !rel.CreatedAt.Before(start) && !rel.CreatedAt.After(e.Time.Add(time.Second)) {
				out[rel.Number] = e.Who
				break
			}
		}
	}
	return out
}

func deploys(op string) bool {
	switch op {
	case "git.from-archive", "git.from-image", "git.push-deploy", "ps.rebuild", "releases.rollback", "config.update", "ps.scale", "ssh.command":
		return true
	}
	return false
}

func (h *Handler) scale(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("app")
	changes := map[string]int{}
	for k, v := range r.PostForm {
		t, ok := strings.CutPrefix(k, "scale_")
		if !ok || len(v) == 0 {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil || n < 0 {
			back(w, r, "/apps/"+name, "", fmt.Errorf("%s: the count must be a number, 0 or more", t))
			return
		}
		changes[t] = n
	}
	_, err := api.PSScale.Call(r.Context(), c.caller, api.ScaleRequest{App: name, Changes: changes})
	back(w, r, "/apps/"+name, "Scaled", err)
}

func (h *Handler) rollback(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("app")
	n, _ := strconv.Atoi(r.PostFormValue("release"))
	res, err := api.ReleasesRollback.Call(r.Context(), c.caller, api.RollbackRequest{App: name, Release: n})
	msg := "Rolled back"
	if err == nil && res.Release > 0 {
		msg = fmt.Sprintf("Rolled back: release %d is live", res.Release)
	}
	back(w, r, "/apps/"+name, msg, err)
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	app := r.URL.Query().Get("app")
	if app == "" && !c.p.Admin && len(c.p.Apps) > 0 {
		app = c.p.Apps[0]
	}
	ev, err := api.EventsList.Call(r.Context(), c.caller, api.EventsRequest{App: app, Limit: 200})
	if err != nil {
		h.failErr(w, r, c, err)
		return
	}
	h.page(w, r, c, "events", map[string]any{"Title": "Events", "Events": ev.Events, "Filter": app})
}

// logStream is the app's log tail (logs -t) as server-sent events, the
// API's stream format.
func (h *Handler) logStream(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	req := api.LogsRequest{App: r.PathValue("app"), Follow: true, Lines: 20}
	httpapi.ServeEvents(w, r, c.caller, api.Logs.Name, req)
}

// rebuild streams ps:rebuild's deploy log as server-sent events (read by
// fetch, since it is a POST).
func (h *Handler) rebuild(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	httpapi.ServeEvents(w, r, c.caller, api.PSRebuild.Name, api.PSRequest{App: r.PathValue("app")})
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return t.UTC().Format("2006-01-02")
}

// sparkline draws values as an inline SVG polyline (no script, no image
// request).
func sparkline(vals []float64, class string) template.HTML {
	const w, hgt = 120.0, 24.0
	if len(vals) < 2 {
		return template.HTML(`<svg class="spark ` + class + `" width="120" height="24" viewBox="0 0 120 24" aria-hidden="true"><line x1="0" y1="23" x2="120" y2="23"/></svg>`)
	}
	max := 0.0
	for _, v := range vals {
		if v > max {
			max = v
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark %s" width="120" height="24" viewBox="0 0 120 24" aria-hidden="true"><polyline points="`, class)
	for i, v := range vals {
		y := hgt - 1
		if max > 0 {
			y = hgt - 1 - (v/max)*(hgt-2)
		}
		fmt.Fprintf(&b, "%.1f,%.1f ", float64(i)*w/float64(len(vals)-1), y)
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String())
}

// hostOf is a URL's scheme and host, the rest hidden (a webhook's path
// is its secret).
func hostOf(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "••••••"
	}
	return u.Scheme + "://" + u.Host + "/••••••"
}

// ms is a duration in milliseconds for people.
func ms(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " ms"
	}
	return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + " s"
}
