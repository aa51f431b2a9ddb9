package gitserver

import (
	"context"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

type fakePreviews map[string]bool

func (f fakePreviews) Enabled(_ context.Context, app string) (bool, error) { return f[app], nil }

// TestPushPlanPreviews: with previews enabled, another branch is a
// preview and its deletion a preview removal, without Dokku's warning;
// the deploy branch deploys as before; with previews off nothing changes.
func TestPushPlanPreviews(t *testing.T) {
	ctx := context.Background()
	s, _ := testServer(t)
	s.previews = fakePreviews{"shop": true}
	a := s.createApp(t, "shop")
	s.setProp(t, a.Scope(), "git", "deploy-branch", "main")
	s.createApp(t, "blog")

	dec, err := s.pushPlan(ctx, api.PushPlan{App: "shop", Refs: []api.GitRef{
		ref("refs/heads/main", revA), ref("refs/heads/feature-x", revB),
		{Old: revA, New: zeroRev, Name: "refs/heads/old"}, ref("refs/tags/v1", revA),
	}}, api.Output{})
	if err != nil || dec.Deploy == nil || dec.Deploy.Name != "refs/heads/main" || len(dec.Warnings) != 0 ||
		len(dec.Previews) != 1 || dec.Previews[0].Name != "refs/heads/feature-x" ||
		len(dec.PreviewRemovals) != 1 || dec.PreviewRemovals[0].Name != "refs/heads/old" {
		t.Errorf("previews on: %+v %v", dec, err)
	}
	dec, _ = s.pushPlan(ctx, api.PushPlan{App: "blog", Refs: []api.GitRef{ref("refs/heads/main", revA), ref("refs/heads/feature-x", revB)}}, api.Output{})
	if len(dec.Previews) != 0 || len(dec.Warnings) != 3 {
		t.Errorf("previews off: %+v", dec)
	}
	if v := s.prop(t, store.Global, "git", "deploy-branch"); v != "" {
		t.Errorf("global deploy branch set: %q", v)
	}
}
