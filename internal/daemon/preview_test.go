package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// TestAuditOfPreviewPushes: the hook's previews.deploy is recorded as the
// pushing key's, without the pushed app.json and masking script.
func TestAuditOfPreviewPushes(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mux := api.NewMux(nil, nil)
	(&auditLog{st: st}).Register(mux)
	api.HandleSession(mux, api.PreviewsDeploy, func(context.Context, api.PreviewDeploy, *api.Session) (api.PreviewDeployResult, error) {
		return api.PreviewDeployResult{}, nil
	})
	req := api.PreviewDeploy{App: "shop", Key: "dev", Branch: "feature-x", Rev: "abc",
		AppJSON: `{"environments": {"review": {"env": {"TOKEN": "hidden-41"}}}}`, MaskSQL: "UPDATE users SET email = 'hidden-42';"}
	if _, err := api.PreviewsDeploy.Run(context.Background(), mux, req, &api.Session{Stdin: strings.NewReader("")}); err != nil {
		t.Fatal(err)
	}
	var evs api.EventList
	if err := mux.Call(context.Background(), "events.list", api.EventsRequest{}, &evs, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 1 {
		t.Fatalf("events: %+v", evs.Events)
	}
	e := evs.Events[0]
	if e.Who != "key:dev" || e.App != "shop" || strings.Contains(string(e.Args), "hidden-4") || !strings.Contains(string(e.Args), `"branch":"feature-x"`) {
		t.Errorf("previews.deploy event: %+v %s", e, e.Args)
	}
}
