package store

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestConfigScopes(t *testing.T) {
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
		check := func(when string, sc Scope, want map[string]string) {
			t.Helper()
			got, err := tx.Config(sc)
			if err != nil {
				t.Fatalf("%s: Config(%d): %v", when, sc, err)
			}
			if !maps.Equal(got, want) || got == nil {
				t.Errorf("%s: Config(%d) = %q, want %q", when, sc, got, want)
			}
		}
		check("fresh", Global, map[string]string{})
		check("fresh", shop.Scope(), map[string]string{})

		if err := tx.SetConfig(Global, map[string]string{"K": "global", "G": "g"}); err != nil {
			return err
		}
		if err := tx.SetConfig(shop.Scope(), map[string]string{"K": "shop", "A": "1"}); err != nil {
			return err
		}
		check("set", Global, map[string]string{"K": "global", "G": "g"})
		check("set", shop.Scope(), map[string]string{"K": "shop", "A": "1"})
		check("set", blog.Scope(), map[string]string{})

		// Setting some keys leaves the others alone; an existing key is
		// overwritten.
		if err := tx.SetConfig(shop.Scope(), map[string]string{"A": "2", "B": "3"}); err != nil {
			return err
		}
		check("merge", shop.Scope(), map[string]string{"K": "shop", "A": "2", "B": "3"})
		if err := tx.SetConfig(shop.Scope(), nil); err != nil {
			t.Errorf("SetConfig(nil) = %v", err)
		}
		check("set nothing", shop.Scope(), map[string]string{"K": "shop", "A": "2", "B": "3"})

		// Unset reports exactly the keys that were set, in the order asked.
		removed, err := tx.UnsetConfig(shop.Scope(), []string{"B", "NOPE", "K", "K"})
		if err != nil {
			return err
		}
		if want := []string{"B", "K"}; !slices.Equal(removed, want) {
			t.Errorf("UnsetConfig removed %q, want %q", removed, want)
		}
		check("unset", shop.Scope(), map[string]string{"A": "2"})
		check("unset", Global, map[string]string{"K": "global", "G": "g"}) // same key, other scope
		if removed, err := tx.UnsetConfig(shop.Scope(), nil); err != nil || len(removed) != 0 {
			t.Errorf("UnsetConfig(nil) = %q, %v", removed, err)
		}

		// Unsetting a global key leaves the apps' keys of that name.
		if err := tx.SetConfig(blog.Scope(), map[string]string{"G": "blog"}); err != nil {
			return err
		}
		if removed, err := tx.UnsetConfig(Global, []string{"G"}); err != nil || !slices.Equal(removed, []string{"G"}) {
			t.Errorf("UnsetConfig(Global, G) = %q, %v", removed, err)
		}
		check("unset global", blog.Scope(), map[string]string{"G": "blog"})

		// Clear empties one scope only.
		if err := tx.ClearConfig(shop.Scope()); err != nil {
			return err
		}
		check("clear", shop.Scope(), map[string]string{})
		check("clear", Global, map[string]string{"K": "global"})
		check("clear", blog.Scope(), map[string]string{"G": "blog"})
		if err := tx.ClearConfig(Global); err != nil {
			return err
		}
		check("clear global", Global, map[string]string{})
		check("clear global", blog.Scope(), map[string]string{"G": "blog"})
		return nil
	})
}

// exactValues are values the store must keep byte for byte.
var exactValues = map[string]string{
	"EMPTY":      "",
	"SPACES":     "  leading and trailing  ",
	"UNICODE":    "caf\u00e9 \u65e5\u672c \U0001F600 \u2028 \uFEFF",
	"NEWLINES":   "l1\nl2\r\nl3\n\n",
	"QUOTES":     `it's "quoted" ` + "`back`",
	"BACKSLASH":  `C:\dir\n \\ \`,
	"SHELL":      "$HOME ${X} $(id); rm -rf / #",
	"SQL":        "'); DROP TABLE apps; --",
	"PERCENT":    "%s %d %% ?",
	"CONTROL":    "\x01\x1b[0m\x7f\t",
	"LONG":       strings.Repeat("0123456789abcdef", 64*1024), // 1 MiB
	"NUMERIC":    "007",
	"FLOATY":     "1e3",
	"TRAILING_0": "1.50",
}

func TestConfigValuesExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "berth.db")
	s, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	var a App
	mustTx(t, s, func(tx *Tx) error {
		a, err = tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		if err := tx.SetConfig(a.Scope(), exactValues); err != nil {
			return err
		}
		return tx.SetConfig(Global, exactValues)
	})
	check := func(when string, s *Store) {
		mustTx(t, s, func(tx *Tx) error {
			for _, sc := range []Scope{a.Scope(), Global} {
				got, err := tx.Config(sc)
				if err != nil {
					return err
				}
				for k, want := range exactValues {
					if got[k] != want {
						t.Errorf("%s: %s in scope %d = %q, want %q", when, k, sc, trunc(got[k]), trunc(want))
					}
				}
				if len(got) != len(exactValues) {
					t.Errorf("%s: %d keys in scope %d, want %d", when, len(got), sc, len(exactValues))
				}
			}
			return nil
		})
	}
	check("same handle", s)
	s.Close()
	check("after reopen", openAt(t, file))
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func TestConfigKeysCaseSensitive(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		if err := tx.SetConfig(Global, map[string]string{"key": "lower", "KEY": "upper", "Key": "mixed"}); err != nil {
			return err
		}
		got, err := tx.Config(Global)
		if err != nil {
			return err
		}
		if want := map[string]string{"key": "lower", "KEY": "upper", "Key": "mixed"}; !maps.Equal(got, want) {
			t.Errorf("Config = %q, want %q", got, want)
		}
		return nil
	})
}

func TestProperties(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	mustTx(t, s, func(tx *Tx) error {
		shop, err := tx.CreateApp("shop", fixedNow)
		if err != nil {
			return err
		}
		prop := func(sc Scope, ns, key string) (string, bool) {
			t.Helper()
			v, ok, err := tx.Property(sc, ns, key)
			if err != nil {
				t.Fatalf("Property(%d, %s, %s): %v", sc, ns, key, err)
			}
			return v, ok
		}
		if v, ok := prop(shop.Scope(), "apps", "deploy-source"); ok || v != "" {
			t.Errorf("unset property = %q, %v", v, ok)
		}
		// An empty value is set, not missing.
		if err := tx.SetProperty(shop.Scope(), "apps", "deploy-source", ""); err != nil {
			return err
		}
		if v, ok := prop(shop.Scope(), "apps", "deploy-source"); !ok || v != "" {
			t.Errorf("empty property = %q, %v; want set and empty", v, ok)
		}
		// Overwrite; scopes and namespaces are separate.
		for _, step := range []struct {
			sc       Scope
			ns, k, v string
		}{
			{shop.Scope(), "apps", "deploy-source", "git"},
			{shop.Scope(), "apps", "deploy-source", "docker-image"},
			{Global, "apps", "deploy-source", "global"},
			{shop.Scope(), "ps", "deploy-source", "other namespace"},
			{shop.Scope(), "apps", "deploy-source-metadata", "l1\nl2 'q' \u00e9"},
		} {
			if err := tx.SetProperty(step.sc, step.ns, step.k, step.v); err != nil {
				return err
			}
		}
		for _, c := range []struct {
			sc       Scope
			ns, k, v string
		}{
			{shop.Scope(), "apps", "deploy-source", "docker-image"},
			{Global, "apps", "deploy-source", "global"},
			{shop.Scope(), "ps", "deploy-source", "other namespace"},
			{shop.Scope(), "apps", "deploy-source-metadata", "l1\nl2 'q' \u00e9"},
		} {
			if v, ok := prop(c.sc, c.ns, c.k); !ok || v != c.v {
				t.Errorf("Property(%d, %s, %s) = %q, %v; want %q", c.sc, c.ns, c.k, v, ok, c.v)
			}
		}
		got, err := tx.Properties(shop.Scope(), "apps")
		if err != nil {
			return err
		}
		want := map[string]string{"deploy-source": "docker-image", "deploy-source-metadata": "l1\nl2 'q' \u00e9"}
		if !maps.Equal(got, want) {
			t.Errorf("Properties(shop, apps) = %q, want %q", got, want)
		}
		if got, err := tx.Properties(shop.Scope(), "nothing"); err != nil || got == nil || len(got) != 0 {
			t.Errorf("Properties(shop, nothing) = %#v, %v; want an empty map", got, err)
		}
		if got, _ := tx.Properties(Global, "apps"); !maps.Equal(got, map[string]string{"deploy-source": "global"}) {
			t.Errorf("Properties(Global, apps) = %q", got)
		}

		// Unset removes one key of one namespace in one scope.
		if err := tx.UnsetProperty(shop.Scope(), "apps", "deploy-source"); err != nil {
			return err
		}
		if _, ok := prop(shop.Scope(), "apps", "deploy-source"); ok {
			t.Error("property still set after UnsetProperty")
		}
		if v, ok := prop(Global, "apps", "deploy-source"); !ok || v != "global" {
			t.Errorf("UnsetProperty of an app touched the global one: %q, %v", v, ok)
		}
		if v, ok := prop(shop.Scope(), "ps", "deploy-source"); !ok || v != "other namespace" {
			t.Errorf("UnsetProperty touched another namespace: %q, %v", v, ok)
		}
		if err := tx.UnsetProperty(shop.Scope(), "apps", "never-set"); err != nil {
			t.Errorf("UnsetProperty of a missing key = %v", err)
		}
		// Properties and config are separate stores.
		vars, err := tx.Config(shop.Scope())
		if err != nil || len(vars) != 0 {
			t.Errorf("Config after setting properties = %q, %v", vars, err)
		}
		return nil
	})
}
