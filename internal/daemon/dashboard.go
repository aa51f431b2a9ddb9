package daemon

import (
	"context"
	"net/http"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/berthpaas/berth/internal/api"
	dashpages "github.com/berthpaas/berth/internal/dashboard"
	"github.com/berthpaas/berth/internal/httpapi"
	"github.com/berthpaas/berth/internal/store"
)

// withPages serves the web dashboard (package dashboard) beside the API:
// /api/ and /metrics go to the API's handler, every other path to the
// dashboard's pages, which call operations through the API's Caller.
func (d *dashboard) withPages(h *httpapi.Server, auth httpapi.Authenticator) http.Handler {
	pages := dashpages.New(dashpages.Config{API: h, Auth: auth, Password: d.checkPassword, Log: d.log})
	mux := http.NewServeMux()
	mux.Handle("/api/", h)
	mux.Handle("/metrics", h)
	mux.Handle("/", pages)
	return mux
}

// setPassword keeps the bcrypt hash of the dashboard's password
// (dashboard:set password); an empty one removes it.
func (d *dashboard) setPassword(ctx context.Context, req api.DashboardPasswordChange, _ api.Output) (api.Empty, error) {
	pw := req.Password
	if pw == "" {
		return api.Empty{}, d.put(ctx, "password_hash", "")
	}
	if len(pw) < 12 {
		return api.Empty{}, api.Errorf(api.CodeInvalid, "The dashboard's password must have 12 characters or more")
	}
	if len(pw) > 72 {
		return api.Empty{}, api.Errorf(api.CodeInvalid, "The dashboard's password must have 72 bytes or fewer")
	}
	if strings.HasPrefix(pw, tokenPrefix) {
		return api.Empty{}, api.Errorf(api.CodeInvalid, "The dashboard's password may not look like an API token (%s...)", tokenPrefix)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return api.Empty{}, err
	}
	return api.Empty{}, d.put(ctx, "password_hash", string(hash))
}

// checkPassword reports whether pw is the dashboard's password (false when
// none is set).
func (d *dashboard) checkPassword(ctx context.Context, pw string) (bool, error) {
	var hash string
	err := d.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		hash, err = tx.DashboardSetting("password_hash")
		return err
	})
	if err != nil || hash == "" {
		return false, err
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil, nil
}
