package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/httpapi"
)

// fakeAPI answers operations from canned JSON and records the calls.
type fakeAPI struct {
	mu      sync.Mutex
	answers map[string]string
	calls   []string
	failed  int
}

func (f *fakeAPI) Caller(p httpapi.Principal) api.Caller { return f }
func (f *fakeAPI) Blocked(string) bool                   { return f.failed >= 3 }
func (f *fakeAPI) Failed(string)                         { f.failed++ }
func (f *fakeAPI) Call(_ context.Context, op string, req, resp any, _ api.Output) error {
	b, _ := json.Marshal(req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op+" "+string(b))
	a, ok := f.answers[op]
	if !ok {
		return api.Errorf(api.CodeNotFound, "unknown operation %s", op)
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal([]byte(a), resp)
}

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, s string) (httpapi.Principal, bool, error) {
	if s == "berth_good" {
		return httpapi.Principal{Name: "admin", Grant: api.Grant{Admin: true}}, true, nil
	}
	return httpapi.Principal{}, false, nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestPagesRender(t *testing.T) {
	now := time.Now().UTC().Format(time.RFC3339)
	f := &fakeAPI{answers: map[string]string{
		"apps.list":     `{"apps":[{"name":"shop"},{"name":"blog"}]}`,
		"ps.report":     `{"reports":[{"app":"shop","deployed":true,"release":2,"formation":{"web":1,"worker":0},"containers":[{"type":"web","index":1,"state":"running"}]}]}`,
		"domains.urls":  `{"urls":["http://shop.test"]}`,
		"releases.list": `{"releases":[{"number":1,"status":"superseded","source":"git","created_at":"` + now + `"},{"number":2,"status":"live","git_rev":"abcdef1234567","created_at":"` + now + `"}]}`,
		"config.get":    `{"vars":{"SECRET":"hunter2","A":"1"}}`,
		"events.list":   `{"events":[{"id":1,"time":"` + now + `","who":"token:admin","op":"config.update","app":"shop","args":{"set":{"A":"***"}},"ok":true}]}`,
		"metrics.app":   `{"points":[{"request_rate":1},{"request_rate":3,"error_rate":1}]}`,
		"tokens.list":   `{"tokens":[{"name":"admin","admin":true,"created_at":"` + now + `"}]}`,
		"config.update": `{}`,
		"ps.scale":      `{}`,
	}}
	srv := httptest.NewServer(New(Config{API: f, Auth: fakeAuth{}}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path string, form url.Values) (int, string) {
		resp, err := c.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	_, login := get("/")
	m := csrfRE.FindStringSubmatch(login)
	if m == nil || !strings.Contains(login, `id="secret"`) {
		t.Fatalf("/ without a session is not the login page:\n%s", login)
	}
	if status, body := post("/login", url.Values{"csrf": {m[1]}, "secret": {"berth_bad"}}); status != 401 || !strings.Contains(body, "Unknown token") {
		t.Errorf("a bad login: %d %s", status, body)
	}
	_, login = get("/login")
	m = csrfRE.FindStringSubmatch(login)
	status, body := post("/login", url.Values{"csrf": {m[1]}, "secret": {"berth_good"}})
	if status != 200 || !strings.Contains(body, `href="/apps/shop"`) || !strings.Contains(body, "running 1/1") || !strings.Contains(body, "<polyline") {
		t.Fatalf("after login the overview: %d\n%s", status, body)
	}
	status, body = get("/apps/shop")
	if status != 200 || !strings.Contains(body, "Roll back to v1") || strings.Contains(body, "hunter2") || !strings.Contains(body, "SECRET") {
		t.Fatalf("the app page: %d\n%s", status, body)
	}
	csrf := csrfRE.FindStringSubmatch(body)[1]
	status, body = post("/apps/shop/config", url.Values{"csrf": {csrf}, "set": {"SECRET=new\nB=2\nA=1"}, "unset": {"GONE"}})
	if status != 200 || !strings.Contains(body, "changed") || !strings.Contains(body, "added") || !strings.Contains(body, "unchanged") {
		t.Fatalf("the config diff: %d\n%s", status, body)
	}
	if status, _ = post("/apps/shop/config/apply", url.Values{"set": {"X=1"}}); status != 403 {
		t.Errorf("apply without CSRF: %d", status)
	}
	if status, body = post("/apps/shop/config/apply", url.Values{"csrf": {csrf}, "set": {"X=1"}}); status != 200 || !strings.Contains(body, "Config updated") {
		t.Errorf("apply: %d %s", status, body)
	}
	for _, p := range []string{"/events", "/settings"} {
		if status, body := get(p); status != 200 || !strings.Contains(body, "admin") {
			t.Errorf("%s: %d\n%s", p, status, body)
		}
	}
	if status, _ := get("/nope"); status != 404 {
		t.Errorf("/nope: %d", status)
	}
	if got := strings.Join(f.calls, "\n"); !strings.Contains(got, `config.update {"app":"shop","set":{"X":"1"}}`) {
		t.Errorf("calls:\n%s", got)
	}
}

func TestDiff(t *testing.T) {
	set, err := parseSet("A=1\n# c\n\nB = x=y\n")
	if err != nil || set["A"] != "1" || set["B"] != " x=y" {
		t.Fatalf("parseSet: %v %v", set, err)
	}
	if _, err := parseSet("nope"); err == nil {
		t.Error("a line without = accepted")
	}
	d := diff(map[string]string{"A": "1", "C": "3"}, map[string]string{"A": "2", "B": "1"}, []string{"C", "D"})
	var got []string
	for _, c := range d {
		got = append(got, c.Key+":"+c.Kind)
	}
	if strings.Join(got, " ") != "A:changed B:added C:removed" {
		t.Errorf("diff: %v", got)
	}
}
