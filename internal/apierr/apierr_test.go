package apierr

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

func TestInvalid(t *testing.T) {
	var ae *api.Error
	if err := Invalid(app.Invalidf("bad name %q", "X")); !errors.As(err, &ae) || ae.Code != api.CodeInvalid || ae.Message != `bad name "X"` {
		t.Errorf("Invalid(app error) = %#v, want CodeInvalid with the message", err)
	}
	other := errors.New("disk full")
	if err := Invalid(other); err != other {
		t.Errorf("Invalid(other) = %v, want it unchanged", err)
	}
}

func TestApp(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.CreateApp("shop", time.Now()); err != nil {
			return err
		}
		if a, err := App(tx, "shop"); err != nil || a.Name != "shop" {
			t.Errorf("App(shop) = %+v, %v", a, err)
		}
		var ae *api.Error
		if _, err := App(tx, "gone"); !errors.As(err, &ae) || ae.Code != api.CodeAppNotFound || ae.Message != "App gone does not exist" {
			t.Errorf("App(gone) = %v, want Dokku's app-not-found", err)
		}
		if _, err := App(tx, ""); !errors.As(err, &ae) || ae.Code != api.CodeInvalid {
			t.Errorf("App(\"\") = %v, want invalid", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
