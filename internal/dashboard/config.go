package dashboard

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

// change is one line of the config diff shown before applying.
type change struct {
	Key, Kind string // added, changed, unchanged, removed
	Value     string // the new value (typed by the user; old values stay masked)
}

// parseSet reads KEY=VALUE lines (blank lines and # comments skipped).
func parseSet(text string) (map[string]string, error) {
	set := map[string]string{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: %q is not KEY=VALUE", i+1, line)
		}
		set[k] = v
	}
	return set, nil
}

// diff compares the wanted changes with the current vars.
func diff(cur, set map[string]string, unset []string) []change {
	var out []change
	for k, v := range set {
		old, ok := cur[k]
		switch {
		case !ok:
			out = append(out, change{Key: k, Kind: "added", Value: v})
		case old != v:
			out = append(out, change{Key: k, Kind: "changed", Value: v})
		default:
			out = append(out, change{Key: k, Kind: "unchanged", Value: v})
		}
	}
	for _, k := range unset {
		if _, ok := cur[k]; ok {
			out = append(out, change{Key: k, Kind: "removed"})
		}
	}
	slices.SortFunc(out, func(a, b change) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (h *Handler) readChange(r *http.Request) (map[string]string, []string, error) {
	set, err := parseSet(r.PostFormValue("set"))
	if err != nil {
		return nil, nil, err
	}
	unset := strings.Fields(strings.ReplaceAll(r.PostFormValue("unset"), ",", " "))
	for _, k := range unset {
		if _, ok := set[k]; ok {
			return nil, nil, fmt.Errorf("%s is both set and unset", k)
		}
	}
	if len(set) == 0 && len(unset) == 0 {
		return nil, nil, fmt.Errorf("nothing to change: write KEY=VALUE lines, or keys to unset")
	}
	return set, unset, nil
}

// configPreview shows the diff of the wanted change, with a form to apply
// it.
func (h *Handler) configPreview(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("app")
	set, unset, err := h.readChange(r)
	if err != nil {
		back(w, r, "/apps/"+name, "", err)
		return
	}
	cur, err := api.ConfigGet.Call(r.Context(), c.caller, api.ConfigRequest{Scope: api.Scope{App: name}})
	if err != nil {
		h.failErr(w, r, c, err)
		return
	}
	h.page(w, r, c, "config", map[string]any{"Title": name + ": config", "App": name, "Diff": diff(cur.Vars, set, unset),
		"Set": r.PostFormValue("set"), "Unset": r.PostFormValue("unset"), "NoRestart": r.PostFormValue("no_restart") != ""})
}

func (h *Handler) configApply(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PathValue("app")
	set, unset, err := h.readChange(r)
	if err != nil {
		back(w, r, "/apps/"+name, "", err)
		return
	}
	req := api.ConfigChange{Scope: api.Scope{App: name}, Set: set, Unset: unset, NoRestart: r.PostFormValue("no_restart") != ""}
	if len(set) == 0 {
		req.Set = nil
	}
	_, err = api.ConfigUpdate.Call(r.Context(), c.caller, req)
	back(w, r, "/apps/"+name, "Config updated", err)
}
