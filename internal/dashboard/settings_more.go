package dashboard

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

// apps reads a comma- or space-separated list of apps.
func appsField(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}

func (h *Handler) addNotification(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	req := api.NotificationAddRequest{Name: strings.TrimSpace(r.PostFormValue("name")), URL: strings.TrimSpace(r.PostFormValue("url")),
		Format: r.PostFormValue("format"), Events: strings.TrimSpace(r.PostFormValue("events")), App: strings.TrimSpace(r.PostFormValue("app"))}
	_, err := api.NotificationsAdd.Call(r.Context(), c.caller, req)
	back(w, r, "/settings", "Added notification target "+req.Name, err)
}

func (h *Handler) removeNotification(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PostFormValue("name")
	_, err := api.NotificationsRemove.Call(r.Context(), c.caller, api.NotificationRef{Name: name})
	back(w, r, "/settings", "Removed notification target "+name, err)
}

// testNotification sends a test event and says how it went.
func (h *Handler) testNotification(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	name := r.PostFormValue("name")
	d, err := api.NotificationsTest.Call(r.Context(), c.caller, api.NotificationRef{Name: name})
	if err == nil && d.Error != "" {
		err = fmt.Errorf("test of %s failed after %d tries (HTTP %d): %s", name, d.Tries, d.Status, d.Error)
	}
	back(w, r, "/settings", fmt.Sprintf("Test sent to %s: HTTP %d", name, d.Status), err)
}

func (h *Handler) addKey(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	req := api.KeyAdd{Name: strings.TrimSpace(r.PostFormValue("name")), PublicKey: strings.TrimSpace(r.PostFormValue("key")), Apps: appsField(r.PostFormValue("apps"))}
	k, err := api.KeysAdd.Call(r.Context(), c.caller, req)
	back(w, r, "/settings", "Added ssh key "+k.Name+" "+k.Fingerprint, err)
}

func (h *Handler) removeKey(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	fp := r.PostFormValue("fingerprint")
	k, err := api.KeysRemove.Call(r.Context(), c.caller, api.KeyRef{Fingerprint: fp})
	back(w, r, "/settings", "Removed ssh key "+k.Name, err)
}
