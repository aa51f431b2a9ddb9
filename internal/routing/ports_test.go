package routing

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

func pm(s string) app.PortMap {
	m, err := app.ParsePortMap(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestWebPortMap(t *testing.T) {
	for _, c := range []struct {
		maps   []app.PortMap
		listen int
		want   string // "" when none
	}{
		{nil, 80, ""},
		{[]app.PortMap{pm("https:443:5000")}, 80, ""},
		{[]app.PortMap{pm("http:8080:3000"), pm("http:80:4000")}, 80, "http:80:4000"},
		// The one on the listener's port wins over 80.
		{[]app.PortMap{pm("http:80:4000"), pm("http:8080:3000")}, 8080, "http:8080:3000"},
		// None on the listener's port: the one on 80, else the first.
		{[]app.PortMap{pm("http:81:1000"), pm("http:80:4000")}, 9000, "http:80:4000"},
		{[]app.PortMap{pm("https:443:1"), pm("http:81:1000"), pm("http:82:2000")}, 9000, "http:81:1000"},
	} {
		m, ok := webPortMap(c.maps, c.listen)
		if got := map[bool]string{true: m.String(), false: ""}[ok]; got != c.want {
			t.Errorf("webPortMap(%v, %d) = %q, want %q", c.maps, c.listen, got, c.want)
		}
	}
}

func (e *env) ports(req api.PortsChange) (api.PortsReport, error) {
	return api.PortsUpdate.Call(e.ctx, e.mux, req)
}

func TestPortsUpdateAndWebContainerPort(t *testing.T) {
	e := newEnv(t, nil)
	a := e.createApp("shop")
	if p, err := e.m.WebContainerPort(e.ctx, "shop", 5000); err != nil || p != 5000 {
		t.Errorf("no map: %d, %v (want the detected port)", p, err)
	}
	res, err := e.ports(api.PortsChange{App: "shop", Action: api.PortsAdd, Maps: []string{"http:8080:3000 https:443:3000"}})
	if err != nil || !eq(res.Map, list("http:8080:3000", "https:443:3000")) || !eq(res.Detected, list("http:80:5000")) {
		t.Fatalf("add: %+v, %v", res, err)
	}
	// The proxy listens on :80 here; no map on 80, so the first http one.
	if p, _ := e.m.WebContainerPort(e.ctx, "shop", 5000); p != 3000 {
		t.Errorf("WebContainerPort = %d, want 3000", p)
	}
	if _, err := e.ports(api.PortsChange{App: "shop", Action: api.PortsAdd, Maps: []string{"http:80:4000"}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.m.WebContainerPort(e.ctx, "shop", 5000); p != 4000 {
		t.Errorf("WebContainerPort = %d, want 4000 (the map on the listener's port)", p)
	}
	res, err = e.ports(api.PortsChange{App: "shop", Action: api.PortsRemove, Maps: []string{"8080"}})
	if err != nil || !eq(res.Map, list("http:80:4000", "https:443:3000")) {
		t.Errorf("remove by host port: %+v, %v", res, err)
	}
	res, err = e.ports(api.PortsChange{App: "shop", Action: api.PortsSet, Maps: []string{"http:80:7000"}})
	if err != nil || !eq(res.Map, list("http:80:7000")) {
		t.Errorf("set: %+v, %v", res, err)
	}
	// The detected map follows the live release's exposed port.
	r := e.deploy(a, 1)
	r.WebPort, r.Status = 8000, store.ReleaseLive
	e.tx(func(tx *store.Tx) error { return tx.UpdateRelease(r) })
	res, err = e.ports(api.PortsChange{App: "shop", Action: api.PortsClear})
	if err != nil || len(res.Map) != 0 || !eq(res.Detected, list("http:80:8000")) {
		t.Errorf("clear: %+v, %v", res, err)
	}
	if p, _ := e.m.WebContainerPort(e.ctx, "shop", 8000); p != 8000 {
		t.Errorf("after clear: %d", p)
	}
	if _, err := e.m.WebContainerPort(e.ctx, "ghost", 5000); errCode(err) != api.CodeAppNotFound {
		t.Errorf("missing app: %v", err)
	}
}

func TestPortsBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	if _, err := e.ports(api.PortsChange{App: "shop", Action: api.PortsSet, Maps: []string{"http:80:5000"}}); err != nil {
		t.Fatal(err)
	}
	for _, req := range []api.PortsChange{
		{App: "shop", Action: api.PortsAdd},
		{App: "shop", Action: "swap", Maps: []string{"http:80:5000"}},
		{App: "shop", Action: api.PortsAdd, Maps: []string{"tcp:80:5000"}},
		{App: "shop", Action: api.PortsAdd, Maps: []string{"http:0:5000"}},
		{App: "shop", Action: api.PortsAdd, Maps: []string{"http:80:4000"}}, // host port 80 taken twice
		{App: "shop", Action: api.PortsSet, Maps: []string{"http:80:5000", "http:81:99999"}},
	} {
		if _, err := e.ports(req); errCode(err) != api.CodeInvalid {
			t.Errorf("%+v: %v, want invalid", req, err)
		}
	}
	if _, err := e.ports(api.PortsChange{App: "ghost", Action: api.PortsClear}); errCode(err) != api.CodeAppNotFound {
		t.Errorf("missing app: %v", err)
	}
	rep, err := api.PortsReportOp.Call(e.ctx, e.mux, api.PortsRequest{All: true})
	if err != nil || len(rep.Reports) != 1 || !eq(rep.Reports[0].Map, list("http:80:5000")) {
		t.Errorf("report after bad input: %+v, %v", rep, err)
	}
}
