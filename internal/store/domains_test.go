package store

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// createApps creates apps with the given names.
func createApps(t *testing.T, s *Store, names ...string) []App {
	t.Helper()
	var apps []App
	mustTx(t, s, func(tx *Tx) error {
		for _, n := range names {
			a, err := tx.CreateApp(n, fixedNow)
			if err != nil {
				return err
			}
			apps = append(apps, a)
		}
		return nil
	})
	return apps
}

// domainsOf reads an app's domains in a transaction of its own.
func domainsOf(t *testing.T, s *Store, a App) []string {
	t.Helper()
	var ds []string
	mustTx(t, s, func(tx *Tx) error {
		var err error
		ds, err = tx.Domains(a)
		return err
	})
	return ds
}

func TestDomainsAddKeepsOrderAndSkipsExisting(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	shop := createApps(t, s, "shop")[0]
	if ds := domainsOf(t, s, shop); len(ds) != 0 {
		t.Fatalf("a new app has domains %q", ds)
	}
	mustTx(t, s, func(tx *Tx) error {
		return tx.AddDomains(shop, []string{"b.test", "a.test", "b.test"})
	})
	mustTx(t, s, func(tx *Tx) error {
		return tx.AddDomains(shop, []string{"a.test", "c.test"})
	})
	if ds, want := domainsOf(t, s, shop), []string{"b.test", "a.test", "c.test"}; !slices.Equal(ds, want) {
		t.Errorf("Domains = %q, want %q", ds, want)
	}
}

func TestDomainTakenByAnotherApp(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	apps := createApps(t, s, "shop", "blog")
	shop, blog := apps[0], apps[1]
	mustTx(t, s, func(tx *Tx) error { return tx.AddDomains(shop, []string{"shop.test"}) })

	err := s.Tx(context.Background(), func(tx *Tx) error {
		return tx.AddDomains(blog, []string{"blog.test", "shop.test"})
	})
	var te *DomainTakenError
	if !errors.As(err, &te) {
		t.Fatalf("AddDomains of a taken domain = %v, want a *DomainTakenError", err)
	}
	if te.Domain != "shop.test" || te.App != "shop" {
		t.Errorf("DomainTakenError = %+v, want shop.test of shop", te)
	}
	if msg := te.Error(); msg != "domain shop.test is already used by app shop" {
		t.Errorf("message %q", msg)
	}
	// Nothing was added, not even the free name before the taken one.
	if ds := domainsOf(t, s, blog); len(ds) != 0 {
		t.Errorf("blog's domains after a refused add: %q", ds)
	}
	// Even within one transaction that goes on.
	mustTx(t, s, func(tx *Tx) error {
		if err := tx.AddDomains(blog, []string{"blog.test", "shop.test"}); !errors.As(err, &te) {
			t.Errorf("AddDomains = %v", err)
		}
		ds, err := tx.Domains(blog)
		if len(ds) != 0 {
			t.Errorf("blog's domains in the transaction: %q", ds)
		}
		return err
	})
	err = s.Tx(context.Background(), func(tx *Tx) error { return tx.SetDomains(blog, []string{"blog.test", "shop.test"}) })
	if !errors.As(err, &te) || te.App != "shop" {
		t.Errorf("SetDomains with a taken domain = %v", err)
	}

	mustTx(t, s, func(tx *Tx) error {
		owner, ok, err := tx.DomainOwner("shop.test")
		if err != nil || !ok || owner != "shop" {
			t.Errorf("DomainOwner(shop.test) = %q, %v, %v", owner, ok, err)
		}
		owner, ok, err = tx.DomainOwner("nobody.test")
		if err != nil || ok || owner != "" {
			t.Errorf("DomainOwner(nobody.test) = %q, %v, %v", owner, ok, err)
		}
		return nil
	})
}

func TestDomainsRemoveSetClear(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	apps := createApps(t, s, "shop", "blog")
	shop, blog := apps[0], apps[1]
	mustTx(t, s, func(tx *Tx) error {
		if err := tx.AddDomains(shop, []string{"a.test", "b.test", "c.test"}); err != nil {
			return err
		}
		return tx.AddDomains(blog, []string{"blog.test"})
	})
	mustTx(t, s, func(tx *Tx) error {
		removed, err := tx.RemoveDomains(shop, []string{"b.test", "x.test", "blog.test"})
		if !slices.Equal(removed, []string{"b.test"}) {
			t.Errorf("removed %q, want only b.test (blog.test is blog's)", removed)
		}
		return err
	})
	if ds := domainsOf(t, s, shop); !slices.Equal(ds, []string{"a.test", "c.test"}) {
		t.Errorf("after remove: %q", ds)
	}
	mustTx(t, s, func(tx *Tx) error { return tx.SetDomains(shop, []string{"z.test", "a.test"}) })
	if ds := domainsOf(t, s, shop); !slices.Equal(ds, []string{"z.test", "a.test"}) {
		t.Errorf("after set: %q", ds)
	}
	mustTx(t, s, func(tx *Tx) error { return tx.ClearDomains(shop) })
	if ds := domainsOf(t, s, shop); len(ds) != 0 {
		t.Errorf("after clear: %q", ds)
	}
	if ds := domainsOf(t, s, blog); !slices.Equal(ds, []string{"blog.test"}) {
		t.Errorf("blog's domains changed: %q", ds)
	}
	// A cleared name is free for another app.
	mustTx(t, s, func(tx *Tx) error { return tx.AddDomains(blog, []string{"a.test"}) })
	mustTx(t, s, func(tx *Tx) error {
		all, err := tx.AllDomains()
		if len(all) != 1 || !slices.Equal(all["blog"], []string{"blog.test", "a.test"}) {
			t.Errorf("AllDomains = %q", all)
		}
		return err
	})
}

func TestDomainsCascadeOnAppDelete(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	shop := createApps(t, s, "shop")[0]
	mustTx(t, s, func(tx *Tx) error { return tx.AddDomains(shop, []string{"shop.test", "www.shop.test"}) })
	mustTx(t, s, func(tx *Tx) error { return tx.DeleteApp(shop) })
	mustTx(t, s, func(tx *Tx) error {
		if _, ok, err := tx.DomainOwner("shop.test"); ok || err != nil {
			t.Errorf("shop.test still has an owner after the app was deleted (%v)", err)
		}
		var n int
		if err := tx.tx.QueryRowContext(tx.ctx, "SELECT COUNT(*) FROM domains").Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("%d domain rows left", n)
		}
		return nil
	})
	// A new app of the same name starts with none, and may take them.
	again := createApps(t, s, "shop")[0]
	if ds := domainsOf(t, s, again); len(ds) != 0 {
		t.Errorf("recreated app has domains %q", ds)
	}
	other := createApps(t, s, "other")[0]
	mustTx(t, s, func(tx *Tx) error { return tx.AddDomains(other, []string{"shop.test"}) })
}

func TestDomainsFollowRename(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	shop := createApps(t, s, "shop")[0]
	mustTx(t, s, func(tx *Tx) error { return tx.AddDomains(shop, []string{"shop.example.com", "www.shop.test"}) })
	mustTx(t, s, func(tx *Tx) error { return tx.RenameApp(shop, "store") })
	store, err := appNamed(s, "store")
	if err != nil {
		t.Fatal(err)
	}
	if ds := domainsOf(t, s, store); !slices.Equal(ds, []string{"shop.example.com", "www.shop.test"}) {
		t.Errorf("domains after rename: %q", ds)
	}
	mustTx(t, s, func(tx *Tx) error {
		owner, _, err := tx.DomainOwner("www.shop.test")
		if owner != "store" {
			t.Errorf("owner after rename = %q", owner)
		}
		return err
	})
	// ReplaceDomain renames in place, keeping the order.
	mustTx(t, s, func(tx *Tx) error {
		ok, err := tx.ReplaceDomain(store, "shop.example.com", "store.example.com")
		if !ok {
			t.Error("ReplaceDomain reported the domain missing")
		}
		return err
	})
	if ds := domainsOf(t, s, store); !slices.Equal(ds, []string{"store.example.com", "www.shop.test"}) {
		t.Errorf("after ReplaceDomain: %q", ds)
	}
	mustTx(t, s, func(tx *Tx) error {
		if ok, err := tx.ReplaceDomain(store, "nope.test", "x.test"); ok || err != nil {
			t.Errorf("ReplaceDomain of a missing domain = %v, %v", ok, err)
		}
		// Replacing by a name the app already has drops the old one.
		if ok, err := tx.ReplaceDomain(store, "www.shop.test", "store.example.com"); !ok || err != nil {
			t.Errorf("ReplaceDomain onto an own domain = %v, %v", ok, err)
		}
		return nil
	})
	if ds := domainsOf(t, s, store); !slices.Equal(ds, []string{"store.example.com"}) {
		t.Errorf("after ReplaceDomain onto an own domain: %q", ds)
	}
	other := createApps(t, s, "other")[0]
	mustTx(t, s, func(tx *Tx) error { return tx.AddDomains(other, []string{"other.test"}) })
	mustTx(t, s, func(tx *Tx) error {
		_, err := tx.ReplaceDomain(store, "store.example.com", "other.test")
		var te *DomainTakenError
		if !errors.As(err, &te) || te.App != "other" {
			t.Errorf("ReplaceDomain onto another app's domain = %v", err)
		}
		return nil
	})
	if ds := domainsOf(t, s, store); !slices.Equal(ds, []string{"store.example.com"}) {
		t.Errorf("after a refused ReplaceDomain: %q", ds)
	}
}

func appNamed(s *Store, name string) (App, error) {
	var a App
	err := s.Tx(context.Background(), func(tx *Tx) error {
		var err error
		a, err = tx.App(name)
		return err
	})
	return a, err
}
