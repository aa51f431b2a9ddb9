package clitest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

// TestFakeAPIAnswers checks the fake itself: a missing reply is an error,
// and frames arrive before the result.
func TestFakeAPIAnswers(t *testing.T) {
	t.Parallel()
	f := NewFake(map[string]Reply{"apps.info": {Resp: api.AppInfo{Name: "shop", Locked: true}, Stdout: "x"}})
	var out bytes.Buffer
	info, err := api.AppsInfo.Stream(context.Background(), f, api.AppRef{App: "shop"}, api.Output{Stdout: &out})
	if err != nil || info.Name != "shop" || !info.Locked || out.String() != "x" {
		t.Errorf("info = %+v, %v, out %q", info, err, out.String())
	}
	if _, err := api.AppsList.Call(context.Background(), f, api.Empty{}); err == nil {
		t.Error("no error for an op without a reply")
	}
	if got := f.Ops(); !reflect.DeepEqual(got, []string{"apps.info", "apps.list"}) {
		t.Errorf("ops = %q", got)
	}
}

// recorder is a testing.TB that keeps the failures instead of reporting
// them, to test the checks themselves.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}
func (r *recorder) Fatalf(format string, a ...any) { r.Errorf(format, a...) }

// TestCaseCheck: a case passes on what it wants, and each difference
// (exit code, operations, request, stdout, error line) is reported.
func TestCaseCheck(t *testing.T) {
	t.Parallel()
	run := func(f *Fake, stdin string, args ...string) Result {
		api.AppsInfo.Call(context.Background(), f, api.AppRef{App: args[0]})
		return Result{Code: 1, Stdout: "out\n", Stderr: " !     App " + args[0] + " is odd\n"}
	}
	want := Case{Args: []string{"shop"}, Replies: map[string]Reply{"apps.info": {}}, Code: 1, Ops: []string{"apps.info"},
		Reqs: map[string]string{"apps.info": `{"app":"shop"}`}, Stdout: "out\n", ErrLine: "is odd"}
	r := &recorder{TB: t}
	want.Run(r, run)
	if len(r.errs) != 0 {
		t.Errorf("a matching case failed: %q", r.errs)
	}
	for name, change := range map[string]func(*Case){
		"code":    func(c *Case) { c.Code = 0 },
		"ops":     func(c *Case) { c.Ops = nil },
		"request": func(c *Case) { c.Reqs = map[string]string{"apps.info": `{"app":"blog"}`} },
		"stdout":  func(c *Case) { c.Stdout = "other\n" },
		"has":     func(c *Case) { c.Has = []string{"missing"} },
		"errLine": func(c *Case) { c.ErrLine = "is even" },
		"stderr":  func(c *Case) { c.ErrLine, c.Stderr = "", "nothing" },
	} {
		tc := want
		change(&tc)
		r := &recorder{TB: t}
		tc.Run(r, run)
		if len(r.errs) != 1 {
			t.Errorf("%s: %d failures, want 1: %q", name, len(r.errs), r.errs)
		}
	}
}

// TestTerminal: the fake terminal counts raw mode and restores.
func TestTerminal(t *testing.T) {
	t.Parallel()
	term := &Terminal{}
	restore, _ := term.MakeRaw()
	restore()
	if h, w, _ := term.Size(); term.Raw != 1 || term.Restored != 1 || h != 24 || w != 80 {
		t.Errorf("raw %d, restored %d, size %dx%d", term.Raw, term.Restored, h, w)
	}
	if _, open := <-term.Resizes(context.Background()); open {
		t.Error("a resize from the fake terminal")
	}
}
