package dashboard

import (
	"net/http"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	data := map[string]any{"Title": "Settings"}
	if c.p.Admin {
		list, err := api.TokensList.Call(r.Context(), c.caller, api.Empty{})
		if err != nil {
			h.failErr(w, r, c, err)
			return
		}
		data["Tokens"] = list.Tokens
	}
	h.page(w, r, c, "settings", data)
}

// createToken makes a token and shows its secret once.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	req := api.TokenCreate{Name: strings.TrimSpace(r.PostFormValue("name")), ReadOnly: r.PostFormValue("read_only") != ""}
	req.Apps = strings.FieldsFunc(r.PostFormValue("apps"), func(r rune) bool { return r == ',' || r == ' ' })
	tok, err := api.TokensCreate.Call(r.Context(), c.caller, req)
	if err != nil {
		back(w, r, "/settings", "", err)
		return
	}
	list, err := api.TokensList.Call(r.Context(), c.caller, api.Empty{})
	if err != nil {
		h.failErr(w, r, c, err)
		return
	}
	h.page(w, r, c, "settings", map[string]any{"Title": "Settings", "Tokens": list.Tokens, "Created": tok})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PostFormValue("name")
	_, err := api.TokensRevoke.Call(r.Context(), c.caller, api.TokenRef{Name: name})
	back(w, r, "/settings", "Revoked "+name, err)
}
