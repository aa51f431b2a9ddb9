package daemon

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/httpapi"
	"github.com/berthpaas/berth/internal/store"
)

// TestEveryOperationIsAReadOrAChange: a read-only token may call the
// reads, and the audit log records the changes, so each operation of the
// daemon's table is declared one or the other (api/reads.go).
func TestEveryOperationIsAReadOrAChange(t *testing.T) {
	reads := 0
	for _, op := range daemonMux(t).Ops() {
		if !api.Classified(op.Name) {
			t.Errorf("%s is neither a read nor a change (or both): add it to readOps or changeOps in internal/api/reads.go", op.Name)
		}
		if api.IsRead(op.Name) {
			reads++
		}
	}
	t.Logf("%d reads", reads)
}

// TestAuditRecordsChangesMasked: a change through the table is recorded
// with its caller, app and outcome, config values masked; a read is not.
func TestAuditRecordsChangesMasked(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mux := api.NewMux(nil, nil)
	a := &auditLog{st: st}
	a.Register(mux)
	api.Handle(mux, api.ConfigUpdate, func(context.Context, api.ConfigChange, api.Output) (api.ConfigChangeResult, error) {
		return api.ConfigChangeResult{}, nil
	})
	api.Handle(mux, api.ConfigGet, func(context.Context, api.ConfigRequest, api.Output) (api.ConfigVars, error) {
		return api.ConfigVars{}, nil
	})
	api.Handle(mux, api.AppsDestroy, func(context.Context, api.AppRef, api.Output) (api.Empty, error) {
		return api.Empty{}, api.AppNotFound("gone")
	})
	ctx := api.WithWho(context.Background(), api.Who{Kind: "token", Name: "ci"})
	mux.Call(ctx, "config.update", api.ConfigChange{Scope: api.Scope{App: "shop"}, Set: map[string]string{"PASSWORD": "hunter2"}}, nil, api.Output{})
	mux.Call(ctx, "config.get", api.ConfigRequest{Scope: api.Scope{App: "shop"}}, nil, api.Output{})
	mux.Call(context.Background(), "apps.destroy", api.AppRef{App: "gone"}, nil, api.Output{})
	mux.Call(context.Background(), "apps.rename", api.RenameRequest{From: "a", To: "b"}, nil, api.Output{}) // not registered: not called
	var evs api.EventList
	if err := mux.Call(context.Background(), "events.list", api.EventsRequest{}, &evs, api.Output{}); err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 2 {
		t.Fatalf("events: %+v", evs.Events)
	}
	gone, cfg := evs.Events[0], evs.Events[1]
	if gone.Who != "root" || gone.Op != "apps.destroy" || gone.App != "gone" || gone.OK || gone.Error != "App gone does not exist" {
		t.Errorf("apps.destroy event: %+v", gone)
	}
	if cfg.Who != "token:ci" || cfg.App != "shop" || !cfg.OK || time.Since(cfg.Time) > time.Minute {
		t.Errorf("config.update event: %+v", cfg)
	}
	if strings.Contains(string(cfg.Args), "hunter2") || !strings.Contains(string(cfg.Args), `"PASSWORD":"***"`) {
		t.Errorf("config.update args not masked: %s", cfg.Args)
	}
	var shop api.EventList
	mux.Call(context.Background(), "events.list", api.EventsRequest{App: "shop", Limit: 5}, &shop, api.Output{})
	if len(shop.Events) != 1 || shop.Events[0].Op != "config.update" {
		t.Errorf("events of shop: %+v", shop.Events)
	}
}

func TestMaskSecrets(t *testing.T) {
	var v map[string]any
	json.Unmarshal([]byte(`{"app":"a","key_pem":"-----BEGIN","url":"https://u:pw@example.com/x.tgz","nested":[{"password":"p"}]}`), &v)
	b, _ := json.Marshal(maskSecrets(v))
	got := string(b)
	for _, leak := range []string{"BEGIN", ":pw@", `"p"`} {
		if strings.Contains(got, leak) {
			t.Errorf("%s leaks %q", got, leak)
		}
	}
	if !strings.Contains(got, "https://u:***@example.com/x.tgz") {
		t.Errorf("url not kept: %s", got)
	}
}

// TestOpenAPIOfTheDaemon: the OpenAPI file of the whole table builds, has
// a path per operation but the interactive ones, and refers only to
// schemas it defines.
func TestOpenAPIOfTheDaemon(t *testing.T) {
	ops := daemonMux(t).Ops()
	doc := httpapi.OpenAPI(ops)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	for _, op := range ops {
		if _, ok := paths["/api/v1/ops/"+op.Name]; ok == op.Session {
			t.Errorf("%s (session %v): path present %v", op.Name, op.Session, ok)
		}
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, ref := range regexp.MustCompile(`"#/components/schemas/([A-Za-z0-9_]+)"`).FindAllStringSubmatch(string(b), -1) {
		if _, ok := schemas[ref[1]]; !ok {
			t.Errorf("$ref to undefined schema %s", ref[1])
		}
	}
	t.Logf("%d paths, %d schemas, %d bytes", len(paths), len(schemas), len(b))
}
