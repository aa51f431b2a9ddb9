package clitest

import (
	"bytes"
	"context"
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
