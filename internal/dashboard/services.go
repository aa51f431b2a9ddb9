package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

// serviceKinds are the kinds the services page lists.
var serviceKinds = []string{"postgres", "redis"}

// serviceRow is one service of the services page (never its DSN: it holds
// the password).
type serviceRow struct {
	Kind, Name, Version, Status string
	Links                       []string
	Backup                      api.BackupSummary
	LastRestore                 *api.ServiceRestore
}

func rowOf(s api.ServiceInfo) serviceRow {
	r := serviceRow{Kind: s.Kind, Name: s.Name, Version: s.Version, Status: s.Status, Links: s.Links, Backup: s.Backup}
	if n := len(s.Restores); n > 0 {
		r.LastRestore = &s.Restores[n-1]
	}
	return r
}

func (h *Handler) services(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	var rows []serviceRow
	for _, kind := range serviceKinds {
		list, err := api.ServicesList.Call(r.Context(), c.caller, api.ServiceRef{Kind: kind})
		if err != nil {
			h.failErr(w, r, c, err)
			return
		}
		for _, s := range list.Services {
			rows = append(rows, rowOf(s))
		}
	}
	h.page(w, r, c, "services", map[string]any{"Title": "Services", "Services": rows})
}

func serviceRef(r *http.Request) api.ServiceRef {
	return api.ServiceRef{Kind: r.PathValue("kind"), Name: r.PathValue("name")}
}

func servicePath(ref api.ServiceRef) string { return "/services/" + ref.Kind + "/" + ref.Name }

// service is one service's page: its links, backups (in ?dir=, else the
// scheduled directory), restores and schedule.
func (h *Handler) service(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ctx, ref := r.Context(), serviceRef(r)
	info, err := api.ServicesInfo.Call(ctx, c.caller, ref)
	if err != nil {
		h.failErr(w, r, c, err)
		return
	}
	data := map[string]any{"Title": ref.Kind + " " + ref.Name, "S": rowOf(info), "Restores": reversed(info.Restores)}
	dir := r.URL.Query().Get("dir")
	if sch, err := api.ServicesBackupScheduleCat.Call(ctx, c.caller, ref); err == nil && sch.Schedule != "" {
		data["Schedule"] = sch
		if dir == "" {
			dir = sch.Dir
		}
	}
	data["Dir"] = dir
	if dir != "" {
		list, err := api.ServicesBackupList.Call(ctx, c.caller, api.ServiceBackupList{ServiceRef: ref, Dir: dir})
		if err != nil {
			data["ListError"] = firstLine(err.Error())
		} else {
			data["Backups"] = reversed(list.Files)
			data["Dir"] = list.Dir
		}
	}
	h.page(w, r, c, "service", data)
}

// backTo redirects to the service's page, keeping the directory shown.
func backTo(w http.ResponseWriter, r *http.Request, ref api.ServiceRef, dir, flash string, err error) {
	path := servicePath(ref)
	if dir != "" {
		path += "?dir=" + url.QueryEscape(dir)
	}
	back(w, r, path, flash, err)
}

func (h *Handler) serviceBackup(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ref, dir := serviceRef(r), strings.TrimSpace(r.PostFormValue("dir"))
	f, err := api.ServicesBackup.Call(r.Context(), c.caller, api.ServiceBackup{ServiceRef: ref, Dir: dir})
	backTo(w, r, ref, dir, fmt.Sprintf("Backed up: %s (%s)", f.Name, size(f.Size)), err)
}

func (h *Handler) serviceRestore(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ref, file := serviceRef(r), r.PostFormValue("file")
	_, err := api.ServicesBackupRestore.Call(r.Context(), c.caller, api.ServiceBackupRestore{ServiceRef: ref, File: file})
	backTo(w, r, ref, r.PostFormValue("dir"), "Restored "+ref.Name+" from "+file, err)
}

func (h *Handler) serviceSchedule(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ref := serviceRef(r)
	req := api.ServiceBackupSchedule{ServiceRef: ref, Schedule: strings.TrimSpace(r.PostFormValue("schedule")), Dir: strings.TrimSpace(r.PostFormValue("dir"))}
	if k := strings.TrimSpace(r.PostFormValue("keep")); k != "" {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 {
			backTo(w, r, ref, "", "", fmt.Errorf("keep must be a number, 0 (all) or more"))
			return
		}
		req.Keep = &n
	}
	_, err := api.ServicesBackupSchedule.Call(r.Context(), c.caller, req)
	backTo(w, r, ref, "", "Backups scheduled: "+req.Schedule, err)
}

func (h *Handler) serviceUnschedule(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	ref := serviceRef(r)
	res, err := api.ServicesBackupUnschedule.Call(r.Context(), c.caller, ref)
	msg := "No schedule to remove"
	if res.Removed {
		msg = "Backup schedule removed"
	}
	backTo(w, r, ref, "", msg, err)
}

// size is a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// reversed is a reversed copy of s (the newest first).
func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
