package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

type fakeAuth map[string]Principal

func (f fakeAuth) Authenticate(_ context.Context, secret string) (Principal, bool, error) {
	p, ok := f[secret]
	return p, ok, nil
}

// testServer serves a few real operations over fake handlers.
func testServer(t *testing.T, limit Limit) (*httptest.Server, *[]string) {
	var calls []string
	mux := api.NewMux(nil, nil)
	api.Handle(mux, api.AppsList, func(context.Context, api.Empty, api.Output) (api.AppList, error) {
		return api.AppList{Apps: []api.AppInfo{{Name: "shop"}, {Name: "blog"}}}, nil
	})
	api.Handle(mux, api.ConfigGet, func(_ context.Context, r api.ConfigRequest, _ api.Output) (api.ConfigVars, error) {
		calls = append(calls, "config.get "+r.App)
		return api.ConfigVars{Vars: map[string]string{"A": "1"}}, nil
	})
	api.Handle(mux, api.ConfigUpdate, func(ctx context.Context, r api.ConfigChange, out api.Output) (api.ConfigChangeResult, error) {
		calls = append(calls, "config.update "+r.App+" by "+api.WhoFrom(ctx).String())
		io.WriteString(out.Stdout, "-----> Setting config vars\n")
		io.WriteString(out.Stderr, "warning\n")
		return api.ConfigChangeResult{Restarted: true}, nil
	})
	api.Handle(mux, api.AppsDestroy, func(context.Context, api.AppRef, api.Output) (api.Empty, error) {
		return api.Empty{}, api.AppNotFound("nope")
	})
	api.HandleSession(mux, api.Run, func(context.Context, api.RunRequest, *api.Session) (api.RunResult, error) {
		return api.RunResult{}, nil
	})
	auth := fakeAuth{
		"admin":   {Name: "admin", Grant: api.Grant{Admin: true}},
		"shop":    {Name: "shop-ci", Grant: api.Grant{Apps: []string{"shop"}}},
		"watcher": {Name: "watcher", Grant: api.Grant{Admin: true, ReadOnly: true}},
	}
	srv := httptest.NewServer(New(Config{Ops: mux, Auth: auth, Limit: limit}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func post(t *testing.T, srv *httptest.Server, token, op, body string, hdr ...string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/ops/"+op, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m, string(b)
}

func TestAccessRules(t *testing.T) {
	srv, calls := testServer(t, Limit{Failures: -1})
	for _, tc := range []struct {
		token, op, body string
		status          int
		has             string
	}{
		{"", "config.get", `{"app":"shop"}`, 401, `"code":"unauthorized"`},
		{"bogus", "config.get", `{"app":"shop"}`, 401, "unknown or revoked API token"},
		{"admin", "config.get", `{"app":"shop"}`, 200, `"vars":{"A":"1"}`},
		{"admin", "config.update", `{"app":"shop","set":{"A":"2"}}`, 200, `"stdout":"-----\u003e Setting config vars\n"`},
		{"admin", "apps.destroy", `{"app":"nope"}`, 404, `{"code":"app_not_found","error":"App nope does not exist"}`},
		{"admin", "no.such", `{}`, 404, "unknown operation no.such"},
		{"admin", "run", `{"app":"shop"}`, 400, "interactive"},
		{"admin", "config.get", `{"app":`, 400, "malformed request"},
		{"shop", "config.get", `{"app":"shop"}`, 200, `"A":"1"`},
		{"shop", "config.get", `{"app":"blog"}`, 403, "token shop-ci may only use the commands of apps shop, not app blog"},
		{"shop", "config.update", `{"global":true}`, 403, "not --global"},
		{"shop", "apps.destroy", `{"app":"shop"}`, 403, "not apps.destroy"},
		{"shop", "apps.list", ``, 200, `"apps":[{"name":"shop"`},
		{"watcher", "config.get", `{"app":"blog"}`, 200, `"A":"1"`},
		{"watcher", "config.update", `{"app":"blog","set":{"A":"3"}}`, 403, "token watcher is read-only and config.update changes something"},
	} {
		status, _, body := post(t, srv, tc.token, tc.op, tc.body)
		if status != tc.status || !strings.Contains(body, tc.has) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", tc.token, tc.op, tc.body, status, body, tc.status, tc.has)
		}
		if status >= 400 && strings.Count(strings.TrimSpace(body), "\n") != 0 {
			t.Errorf("error body is not one line: %q", body)
		}
	}
	if strings.Contains(body(t, srv, "shop", "apps.list"), "blog") {
		t.Error("a scoped token sees another app in apps.list")
	}
	want := "config.get shop,config.update shop by token:admin,config.get shop,config.get blog"
	if got := strings.Join(*calls, ","); got != want {
		t.Errorf("calls that reached the handlers:\n got %s\nwant %s", got, want)
	}
}

func body(t *testing.T, srv *httptest.Server, token, op string) string {
	_, _, b := post(t, srv, token, op, "")
	return b
}

func TestServerSentEvents(t *testing.T) {
	srv, _ := testServer(t, Limit{})
	status, _, b := post(t, srv, "admin", "config.update", `{"app":"shop"}`, "Accept", "text/event-stream")
	want := "event: stdout\ndata: \"-----\\u003e Setting config vars\\n\"\n\nevent: stderr\ndata: \"warning\\n\"\n\nevent: result\ndata: {\"restarted\":true}\n\n"
	if status != 200 || b != want {
		t.Errorf("SSE: %d\n%q\nwant\n%q", status, b, want)
	}
	_, _, b = post(t, srv, "watcher", "config.update", `{"app":"shop"}`, "Accept", "text/event-stream")
	sc := bufio.NewScanner(strings.NewReader(b))
	sc.Scan()
	if sc.Text() != "event: error" {
		t.Errorf("a refused stream: %q", b)
	}
}

func TestFailedAuthIsRateLimited(t *testing.T) {
	srv, _ := testServer(t, Limit{Failures: 3})
	for i := 0; i < 3; i++ {
		if status, _, _ := post(t, srv, "bad", "apps.list", ""); status != 401 {
			t.Fatalf("attempt %d: %d", i, status)
		}
	}
	if status, _, b := post(t, srv, "admin", "apps.list", ""); status != 429 || !strings.Contains(b, "too many failed authentications") {
		t.Errorf("after 3 failures: %d %s", status, b)
	}
}

func TestOpenAPI(t *testing.T) {
	srv, _ := testServer(t, Limit{})
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/openapi.json", nil)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("openapi.json without a token: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer shop")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Paths) != 5 || doc.Paths["/api/v1/token"]["get"] == nil {
		t.Fatalf("openapi %q with %d paths (want 4 operations, sessions left out, and /api/v1/token)", doc.OpenAPI, len(doc.Paths))
	}
	post := doc.Paths["/api/v1/ops/config.update"]["post"]
	if post["x-berth-access"] != "app-scoped" || post["x-berth-read"] != false {
		t.Errorf("config.update: %v", post)
	}
	// ConfigChange embeds Scope: its fields are inlined.
	cc := doc.Components.Schemas["ConfigChange"].Properties
	for _, f := range []string{"app", "global", "set", "unset", "replace", "no_restart"} {
		if _, ok := cc[f]; !ok {
			t.Errorf("ConfigChange schema lacks %s: %v", f, cc)
		}
	}
	if cc["set"]["type"] != "object" || cc["unset"]["type"] != "array" {
		t.Errorf("ConfigChange set/unset: %v %v", cc["set"], cc["unset"])
	}
	if doc.Components.Schemas["AppInfo"].Properties["created_at"]["format"] != "date-time" {
		t.Errorf("AppInfo.created_at: %v", doc.Components.Schemas["AppInfo"].Properties["created_at"])
	}
}

func TestClientAddr(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Real-Ip", "203.0.113.9")
	if got := ClientAddr(r); got != "203.0.113.9" {
		t.Errorf("behind the proxy: %s", got)
	}
	r.RemoteAddr = "198.51.100.1:5555"
	if got := ClientAddr(r); got != "198.51.100.1" {
		t.Errorf("direct: %s (X-Real-Ip trusted from a non-loopback peer)", got)
	}
}

func TestQuietStreamsKeepAlive(t *testing.T) {
	old := keepAliveEvery
	keepAliveEvery = 20 * time.Millisecond
	t.Cleanup(func() { keepAliveEvery = old })
	mux := api.NewMux(nil, nil)
	api.Handle(mux, api.AppsInfo, func(context.Context, api.AppRef, api.Output) (api.AppInfo, error) {
		time.Sleep(100 * time.Millisecond)
		return api.AppInfo{Name: "shop"}, nil
	})
	srv := httptest.NewServer(New(Config{Ops: mux, Auth: fakeAuth{"admin": {Name: "admin", Grant: api.Grant{Admin: true}}}}))
	defer srv.Close()
	_, _, b := post(t, srv, "admin", "apps.info", `{"app":"shop"}`, "Accept", "text/event-stream")
	if !strings.HasPrefix(b, ": keep-alive\n\n") || !strings.HasSuffix(b, "event: result\ndata: {\"name\":\"shop\",\"created_at\":\"0001-01-01T00:00:00Z\",\"locked\":false,\"dir\":\"\",\"deploy_source\":\"\",\"deploy_source_metadata\":\"\"}\n\n") {
		t.Errorf("quiet stream: %q", b)
	}
}
