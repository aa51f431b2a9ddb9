package store

import (
	"fmt"
	"testing"
)

// TestBulkReads: the live release of every app and a namespace's settings
// in every scope, each in one query, agree with the per-app reads.
func TestBulkReads(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		shop, err := tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		blog, err := tx.CreateApp("blog", fixedNow)
		if err != nil {
			return err
		}
		if _, err := tx.CreateApp("docs", fixedNow); err != nil { // never deployed
			return err
		}
		for range 2 {
			r, err := tx.CreateRelease(shop, Release{StartedBy: "t"})
			if err != nil {
				return err
			}
			if err := tx.MakeLive(r, fixedNow); err != nil {
				return err
			}
		}
		r, err := tx.CreateRelease(blog, Release{StartedBy: "t"})
		if err != nil {
			return err
		}
		if err := tx.MakeLive(r, fixedNow); err != nil {
			return err
		}
		if _, err := tx.CreateRelease(blog, Release{StartedBy: "t"}); err != nil { // pending
			return err
		}
		lives, err := tx.LiveReleaseNumbers()
		if err != nil {
			return err
		}
		if fmt.Sprint(lives) != fmt.Sprint(map[int64]int{shop.ID: 2, blog.ID: 1}) {
			return fmt.Errorf("LiveReleaseNumbers = %v; want shop 2, blog 1", lives)
		}

		for _, p := range []struct {
			scope    Scope
			ns, k, v string
		}{{Global, "cron", "maintenance", "true"}, {shop.Scope(), "cron", "mailto", "a@b"}, {shop.Scope(), "ps", "x", "y"}} {
			if err := tx.SetProperty(p.scope, p.ns, p.k, p.v); err != nil {
				return err
			}
		}
		props, err := tx.NamespaceProperties("cron")
		if err != nil {
			return err
		}
		want := map[Scope]map[string]string{Global: {"maintenance": "true"}, shop.Scope(): {"mailto": "a@b"}}
		if fmt.Sprint(props) != fmt.Sprint(want) {
			return fmt.Errorf("NamespaceProperties(cron) = %v; want %v", props, want)
		}
		return nil
	})
}
