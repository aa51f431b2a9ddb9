package dashboard

import (
	"net/http"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	data, err := h.settingsData(r, c)
	if err != nil {
		h.failErr(w, r, c, err)
		return
	}
	h.page(w, r, c, "settings", data)
}

// settingsData reads what the settings page shows: tokens, notification
// targets and ssh keys (an admin's; others see none).
func (h *Handler) settingsData(r *http.Request, c *reqCtx) (map[string]any, error) {
	data := map[string]any{"Title": "Settings"}
	if !c.p.Admin {
		return data, nil
	}
	ctx := r.Context()
	list, err := api.TokensList.Call(ctx, c.caller, api.Empty{})
	if err != nil {
		return nil, err
	}
	data["Tokens"] = list.Tokens
	if n, err := api.NotificationsList.Call(ctx, c.caller, api.Empty{}); err == nil {
		data["Notifications"] = n.Targets
		data["Dropped"] = n.Dropped
	}
	if k, err := api.KeysList.Call(ctx, c.caller, api.Empty{}); err == nil {
		data["Keys"] = k.Keys
	}
	return data, nil
}

// createToken makes a token and shows its secret once.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	req := api.TokenCreate{Name: strings.TrimSpace(r.PostFormValue("name")), ReadOnly: r.PostFormValue("read_only") != ""}
	req.Apps = appsField(r.PostFormValue("apps"))
	tok, err := api.TokensCreate.Call(r.Context(), c.caller, req)
	if err != nil {
		back(w, r, "/settings", "", err)
		return
	}
	data, err := h.settingsData(r, c)
	if err != nil {
		h.failErr(w, r, c, err)
		return
	}
	data["Created"] = tok
	h.page(w, r, c, "settings", data)
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PostFormValue("name")
	_, err := api.TokensRevoke.Call(r.Context(), c.caller, api.TokenRef{Name: name})
	back(w, r, "/settings", "Revoked "+name, err)
}
