package store

import (
	"fmt"
	"testing"
	"time"
)

func TestRetireQueue(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	var shop, blog App
	mustTx(t, s, func(tx *Tx) (err error) {
		if shop, err = tx.CreateApp("shop", fixedNow); err != nil {
			return err
		}
		blog, err = tx.CreateApp("blog", fixedNow)
		return err
	})
	later := fixedNow.Add(time.Minute)
	mustTx(t, s, func(tx *Tx) error {
		if err := tx.QueueRetiring(shop, []Retiring{{ContainerID: "c1", Name: "shop.web.1.1", Addr: "127.0.0.1:4000", RetireAt: later}, {ContainerID: "c2", Name: "shop.worker.1.1", RetireAt: fixedNow}}); err != nil {
			return err
		}
		// Queued again (a second switch before the first retired): updated.
		if err := tx.QueueRetiring(shop, []Retiring{{ContainerID: "c2", Name: "shop.worker.1.2", RetireAt: fixedNow}}); err != nil {
			return err
		}
		return tx.QueueRetiring(blog, []Retiring{{ContainerID: "c3", Addr: "127.0.0.1:4001", RetireAt: later.Add(time.Second)}})
	})
	list := func(rs []Retiring) string {
		var out string
		for _, r := range rs {
			out += fmt.Sprintf("%s/%s/%s/%s/%d ", r.App, r.ContainerID, r.Name, r.Addr, r.RetireAt.Sub(fixedNow.Truncate(time.Second))/time.Second)
		}
		return out
	}
	mustTx(t, s, func(tx *Tx) error {
		all, err := tx.RetireQueue()
		if err != nil {
			return err
		}
		if got, want := list(all), "shop/c2/shop.worker.1.2//0 shop/c1/shop.web.1.1/127.0.0.1:4000/60 blog/c3//127.0.0.1:4001/61 "; got != want {
			t.Errorf("queue = %q, want %q", got, want)
		}
		of, err := tx.RetiringOf(blog)
		if err != nil {
			return err
		}
		if got := list(of); got != "blog/c3//127.0.0.1:4001/61 " {
			t.Errorf("blog's = %q", got)
		}
		return tx.Retired("c2")
	})
	// Destroying an app drops its entries.
	mustTx(t, s, func(tx *Tx) error { return tx.DeleteApp(blog) })
	mustTx(t, s, func(tx *Tx) error {
		all, err := tx.RetireQueue()
		if err != nil {
			return err
		}
		if got := list(all); got != "shop/c1/shop.web.1.1/127.0.0.1:4000/60 " {
			t.Errorf("queue after retiring c2 and deleting blog = %q", got)
		}
		return nil
	})
}
