package deploy

import (
	"context"
	"testing"

	"github.com/berthpaas/berth/internal/store"
)

// apps:rename --skip-deploy: the releases keep running under the new name.
func TestRenameKeepsReleaseImages(t *testing.T) {
	h := newHarness(t)
	h.mustDeploy(twoTypes...)
	h.mustDeploy(twoTypes...)
	ctx := context.Background()
	if err := h.d.RemoveContainers(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.eng.byName()); n != 0 {
		t.Fatalf("%d containers left after RemoveContainers", n)
	}
	shop := h.app()
	h.tx(func(tx *store.Tx) error { return tx.RenameApp(shop, "blog") })
	if err := h.d.RenameImages(ctx, "shop", "blog"); err != nil {
		t.Fatal(err)
	}
	var rels []store.Release
	h.tx(func(tx *store.Tx) error {
		a, err := tx.App("blog")
		if err != nil {
			return err
		}
		rels, err = tx.Releases(a)
		return err
	})
	if len(rels) != 2 {
		t.Fatalf("releases: %d", len(rels))
	}
	h.eng.mu.Lock()
	defer h.eng.mu.Unlock()
	for _, r := range rels {
		if want := h.d.names.Image("blog", r.Number); r.Image != want {
			t.Errorf("release %d image %q, want %q", r.Number, r.Image, want)
		}
		if _, ok := h.eng.images[r.Image]; !ok {
			t.Errorf("release %d: no image %s", r.Number, r.Image)
		}
		if _, ok := h.eng.images[h.d.names.Image("shop", r.Number)]; ok {
			t.Errorf("release %d: the old tag is still there", r.Number)
		}
	}
}

// A new app given the old name, destroyed, leaves the renamed app's images
// (they still carry the old name's label).
func TestDestroyLeavesImagesRenamedAway(t *testing.T) {
	if !renamedAway([]string{"berth/blog:1"}, "berth/shop") {
		t.Error("an image tagged only under another app's repository is that app's")
	}
	for _, tags := range [][]string{nil, {"berth/shop:1"}, {"berth/blog:1", "berth/shop:2"}, {"<none>:<none>"}} {
		if renamedAway(tags, "berth/shop") {
			t.Errorf("%v: kept, want removed", tags)
		}
	}
}
