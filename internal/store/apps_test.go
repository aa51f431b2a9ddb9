package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// fixedNow has sub-second precision, which the store drops.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

func TestCreateAndReadApp(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	var created App
	mustTx(t, s, func(tx *Tx) error {
		var err error
		created, err = tx.CreateApp("shop", fixedNow)
		return err
	})
	if created.ID <= 0 {
		t.Errorf("created app ID %d, want > 0 (0 is the global scope)", created.ID)
	}
	if created.Scope() == Global {
		t.Error("an app's scope is Global")
	}
	if created.Name != "shop" || created.Locked {
		t.Errorf("created = %+v", created)
	}
	if want := fixedNow.Truncate(time.Second); !created.CreatedAt.Equal(want) {
		t.Errorf("CreatedAt = %v, want %v", created.CreatedAt, want)
	}
	mustTx(t, s, func(tx *Tx) error {
		got, err := tx.App("shop")
		if err != nil {
			return err
		}
		if got.ID != created.ID || got.Name != "shop" || !got.CreatedAt.Equal(created.CreatedAt) || got.Locked {
			t.Errorf("App(shop) = %+v, want %+v", got, created)
		}
		return nil
	})
}

func TestCreateAppDuplicate(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		first, err := tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		if _, err := tx.CreateApp("shop", fixedNow.Add(time.Hour)); !errors.Is(err, ErrAppExists) {
			t.Errorf("second CreateApp(shop) = %v, want ErrAppExists", err)
		}
		// The transaction is still usable after the failed insert, and
		// the first app is unchanged.
		if _, err := tx.CreateApp("other", fixedNow); err != nil {
			t.Errorf("CreateApp after a duplicate: %v", err)
		}
		got, err := tx.App("shop")
		if err != nil || got.ID != first.ID || !got.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("App(shop) = %+v, %v; want %+v", got, err, first)
		}
		return nil
	})
	// Also across transactions.
	err := s.Tx(context.Background(), func(tx *Tx) error {
		_, err := tx.CreateApp("shop", fixedNow)
		return err
	})
	if !errors.Is(err, ErrAppExists) {
		t.Errorf("CreateApp(shop) in a new transaction = %v, want ErrAppExists", err)
	}
}

func TestAppNotFound(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		if _, err := tx.CreateApp("shop", fixedNow); err != nil {
			return err
		}
		for _, name := range []string{"nope", "", "Shop", "shop ", "sho", "shop%", "_hop"} {
			if a, err := tx.App(name); !errors.Is(err, ErrAppNotFound) {
				t.Errorf("App(%q) = %+v, %v; want ErrAppNotFound", name, a, err)
			}
		}
		return nil
	})
}

func TestAppsSorted(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	names := []string{"b", "a.x", "a", "a-b", "10", "9", "zz", "a0"}
	mustTx(t, s, func(tx *Tx) error {
		for i, n := range names {
			if _, err := tx.CreateApp(n, fixedNow.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		return nil
	})
	mustTx(t, s, func(tx *Tx) error {
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		var got []string
		ids := map[int64]bool{}
		for _, a := range apps {
			got = append(got, a.Name)
			ids[a.ID] = true
			if a.CreatedAt.IsZero() {
				t.Errorf("app %s has no creation time", a.Name)
			}
		}
		// Byte order: '-' < '.' < digits < letters.
		want := []string{"10", "9", "a", "a-b", "a.x", "a0", "b", "zz"}
		if !slices.Equal(got, want) {
			t.Errorf("Apps = %q, want %q", got, want)
		}
		if len(ids) != len(names) {
			t.Errorf("app IDs are not distinct: %v", ids)
		}
		return nil
	})
}

func TestRenameApp(t *testing.T) {
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
		if err := tx.SetConfig(shop.Scope(), map[string]string{"K": "shop"}); err != nil {
			return err
		}
		if err := tx.SetProperty(shop.Scope(), "apps", "deploy-source", "git"); err != nil {
			return err
		}

		if err := tx.RenameApp(shop, "blog"); !errors.Is(err, ErrAppExists) {
			t.Errorf("RenameApp(shop, blog) = %v, want ErrAppExists", err)
		}
		if a, err := tx.App("shop"); err != nil || a.ID != shop.ID {
			t.Errorf("after a refused rename App(shop) = %+v, %v", a, err)
		}
		if a, err := tx.App("blog"); err != nil || a.ID != blog.ID {
			t.Errorf("after a refused rename App(blog) = %+v, %v", a, err)
		}

		if err := tx.RenameApp(shop, "store"); err != nil {
			t.Fatalf("RenameApp(shop, store) = %v", err)
		}
		if _, err := tx.App("shop"); !errors.Is(err, ErrAppNotFound) {
			t.Errorf("after rename App(shop) = %v, want ErrAppNotFound", err)
		}
		renamed, err := tx.App("store")
		if err != nil {
			return err
		}
		if renamed.ID != shop.ID || !renamed.CreatedAt.Equal(shop.CreatedAt) {
			t.Errorf("renamed app = %+v, want the same ID and creation time as %+v", renamed, shop)
		}
		// Config and properties follow the app.
		vars, err := tx.Config(renamed.Scope())
		if err != nil || vars["K"] != "shop" {
			t.Errorf("config after rename = %v, %v", vars, err)
		}
		if v, ok, err := tx.Property(renamed.Scope(), "apps", "deploy-source"); err != nil || !ok || v != "git" {
			t.Errorf("property after rename = %q, %v, %v", v, ok, err)
		}
		// The old name is free again.
		if _, err := tx.CreateApp("shop", fixedNow); err != nil {
			t.Errorf("CreateApp(shop) after renaming it away: %v", err)
		}
		return nil
	})
}

func TestDeleteApp(t *testing.T) {
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
		for _, sc := range []Scope{Global, shop.Scope(), blog.Scope()} {
			if err := tx.SetConfig(sc, map[string]string{"K": fmt.Sprint(sc), "L": "x"}); err != nil {
				return err
			}
			if err := tx.SetProperty(sc, "apps", "deploy-source", fmt.Sprint(sc)); err != nil {
				return err
			}
			if err := tx.SetProperty(sc, "ps", "restart-policy", "always"); err != nil {
				return err
			}
		}
		if err := tx.DeleteApp(shop); err != nil {
			t.Fatalf("DeleteApp(shop) = %v", err)
		}
		if _, err := tx.App("shop"); !errors.Is(err, ErrAppNotFound) {
			t.Errorf("App(shop) after delete = %v", err)
		}
		// Every row the app owned is gone...
		for _, table := range ownedTables {
			var n int
			if err := tx.tx.QueryRow("SELECT COUNT(*) FROM "+table+" WHERE app_id = ?", shop.ID).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("%s keeps %d rows of the deleted app", table, n)
			}
		}
		// ...and nothing else is touched.
		for _, sc := range []Scope{Global, blog.Scope()} {
			vars, err := tx.Config(sc)
			if err != nil {
				return err
			}
			if want := map[string]string{"K": fmt.Sprint(sc), "L": "x"}; !maps.Equal(vars, want) {
				t.Errorf("Config(%d) after deleting another app = %v, want %v", sc, vars, want)
			}
			props, err := tx.Properties(sc, "apps")
			if err != nil || props["deploy-source"] != fmt.Sprint(sc) {
				t.Errorf("Properties(%d) after deleting another app = %v, %v", sc, props, err)
			}
		}
		// Deleting it again reports it missing.
		if err := tx.DeleteApp(shop); !errors.Is(err, ErrAppNotFound) {
			t.Errorf("second DeleteApp(shop) = %v, want ErrAppNotFound", err)
		}
		// A new app of the same name starts empty.
		again, err := tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		vars, err := tx.Config(again.Scope())
		if err != nil || len(vars) != 0 {
			t.Errorf("config of a recreated app = %v, %v", vars, err)
		}
		return nil
	})
}

// TestDeleteMissingAppKeepsGlobal: deleting an App value that names no row
// (here the zero App, whose ID is the global scope's) must report
// ErrAppNotFound without touching anything, even if the caller goes on to
// commit.
func TestDeleteMissingAppKeepsGlobal(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		return tx.SetConfig(Global, map[string]string{"G": "1"})
	})
	mustTx(t, s, func(tx *Tx) error {
		if err := tx.DeleteApp(App{Name: "ghost"}); !errors.Is(err, ErrAppNotFound) {
			t.Errorf("DeleteApp(zero App) = %v, want ErrAppNotFound", err)
		}
		return nil // commit anyway
	})
	mustTx(t, s, func(tx *Tx) error {
		vars, err := tx.Config(Global)
		if err != nil || vars["G"] != "1" {
			t.Errorf("global config after deleting a missing app = %v, %v", vars, err)
		}
		return nil
	})
}

func TestCopyAppState(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		from, err := tx.CreateApp("from", fixedNow)
		if err != nil {
			return err
		}
		to, err := tx.CreateApp("to", fixedNow)
		if err != nil {
			return err
		}
		if err := tx.SetConfig(Global, map[string]string{"G": "global"}); err != nil {
			return err
		}
		fromVars := map[string]string{"A": "1", "B": "line1\nline2 'q' \"dq\"", "SHARED": "from"}
		if err := tx.SetConfig(from.Scope(), fromVars); err != nil {
			return err
		}
		if err := tx.SetConfig(to.Scope(), map[string]string{"SHARED": "to", "ONLY_TO": "kept"}); err != nil {
			return err
		}
		if err := tx.SetProperty(from.Scope(), "apps", "deploy-source", "git"); err != nil {
			return err
		}
		if err := tx.SetProperty(from.Scope(), "ps", "restart-policy", "no"); err != nil {
			return err
		}

		if err := tx.CopyAppState(from, to); err != nil {
			t.Fatalf("CopyAppState = %v", err)
		}
		got, err := tx.Config(to.Scope())
		if err != nil {
			return err
		}
		want := map[string]string{"A": "1", "B": fromVars["B"], "SHARED": "from", "ONLY_TO": "kept"}
		if !maps.Equal(got, want) {
			t.Errorf("Config(to) = %q, want %q", got, want)
		}
		for ns, kv := range map[string][2]string{"apps": {"deploy-source", "git"}, "ps": {"restart-policy", "no"}} {
			if v, ok, err := tx.Property(to.Scope(), ns, kv[0]); err != nil || !ok || v != kv[1] {
				t.Errorf("Property(to, %s, %s) = %q, %v, %v", ns, kv[0], v, ok, err)
			}
		}
		// The source and the global scope are unchanged.
		if got, _ := tx.Config(from.Scope()); !maps.Equal(got, fromVars) {
			t.Errorf("Config(from) after copy = %q", got)
		}
		if got, _ := tx.Config(Global); !maps.Equal(got, map[string]string{"G": "global"}) {
			t.Errorf("Config(Global) after copy = %q", got)
		}
		return nil
	})
}

func TestSetLocked(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		a, err := tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		if _, err := tx.CreateApp("other", fixedNow); err != nil {
			return err
		}
		for _, locked := range []bool{true, true, false, true} {
			if err := tx.SetLocked(a, locked); err != nil {
				return err
			}
			got, err := tx.App("shop")
			if err != nil {
				return err
			}
			if got.Locked != locked {
				t.Errorf("after SetLocked(%v) Locked = %v", locked, got.Locked)
			}
		}
		if got, _ := tx.App("other"); got.Locked {
			t.Error("SetLocked locked another app")
		}
		apps, err := tx.Apps()
		if err != nil {
			return err
		}
		for _, x := range apps {
			if x.Locked != (x.ID == a.ID) {
				t.Errorf("Apps reports %s locked=%v", x.Name, x.Locked)
			}
		}
		return nil
	})
}

// startTogether runs n goroutines that call fn after all have started, and
// waits for them.
func startTogether(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

func TestConcurrentCreateSameName(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	const n = 20
	errs := make([]error, n)
	startTogether(n, func(i int) {
		errs[i] = s.Tx(context.Background(), func(tx *Tx) error {
			// Half check first, as a command does; half rely on
			// CreateApp alone.
			if i%2 == 0 {
				if _, err := tx.App("shop"); err == nil {
					return ErrAppExists
				}
			}
			_, err := tx.CreateApp("shop", fixedNow)
			return err
		})
	})
	ok, exists := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrAppExists):
			exists++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || exists != n-1 {
		t.Errorf("%d creations succeeded and %d got ErrAppExists, want 1 and %d", ok, exists, n-1)
	}
	mustTx(t, s, func(tx *Tx) error {
		apps, err := tx.Apps()
		if err != nil || len(apps) != 1 {
			t.Errorf("Apps = %v, %v; want exactly one", apps, err)
		}
		return nil
	})
}

func TestConcurrentSetConfig(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	var a App
	mustTx(t, s, func(tx *Tx) error {
		var err error
		a, err = tx.CreateApp("shop", fixedNow)
		return err
	})
	const n = 50
	errs := make([]error, n)
	startTogether(n, func(i int) {
		errs[i] = s.Tx(context.Background(), func(tx *Tx) error {
			// Read-modify-write of the whole map, as config:set does.
			vars, err := tx.Config(a.Scope())
			if err != nil {
				return err
			}
			vars[fmt.Sprintf("K%02d", i)] = fmt.Sprint(i)
			return tx.SetConfig(a.Scope(), vars)
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	mustTx(t, s, func(tx *Tx) error {
		vars, err := tx.Config(a.Scope())
		if err != nil {
			return err
		}
		if len(vars) != n {
			t.Errorf("%d keys set, want %d", len(vars), n)
		}
		for i := range n {
			if k := fmt.Sprintf("K%02d", i); vars[k] != fmt.Sprint(i) {
				t.Errorf("%s = %q, want %d", k, vars[k], i)
			}
		}
		return nil
	})
	if err := s.CheckIntegrity(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestTwoHandlesOneFile: two Stores on the same file (as two berth processes
// would be) doing read-modify-write transactions at once neither fail with
// SQLITE_BUSY nor lose an update.
func TestTwoHandlesOneFile(t *testing.T) {
	t.Parallel()
	s1, file := openTest(t)
	s2 := openAt(t, file)
	const n = 20
	errs := make([]error, 2*n)
	startTogether(2*n, func(i int) {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		errs[i] = s.Tx(context.Background(), func(tx *Tx) error {
			vars, err := tx.Config(Global)
			if err != nil {
				return err
			}
			vars[fmt.Sprintf("K%02d", i)] = "x"
			return tx.SetConfig(Global, vars)
		})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	mustTx(t, s2, func(tx *Tx) error {
		vars, err := tx.Config(Global)
		if err != nil || len(vars) != 2*n {
			t.Errorf("Config(Global) has %d keys, %v; want %d", len(vars), err, 2*n)
		}
		return nil
	})
}
