package daemon

import (
	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploylog"
)

// registerDeployLog adds deploys.follow and makes mux copy every deploying
// operation's output to it (the dashboard's live deploy log).
func registerDeployLog(mux *api.Mux) {
	h := deploylog.New()
	mux.SetTee(h.Tee)
	h.Register(mux)
}
