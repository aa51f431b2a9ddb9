package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTokensAndEvents(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	err := s.Tx(ctx, func(tx *Tx) error {
		tok, err := tx.AddToken(Token{Name: "ci", SecretHash: "h1", Apps: []string{"shop", "blog"}, ReadOnly: true, CreatedAt: now})
		if err != nil {
			return err
		}
		if _, err := tx.AddToken(Token{Name: "ci", SecretHash: "h2", CreatedAt: now}); !errors.Is(err, ErrTokenExists) {
			t.Errorf("a second ci: %v", err)
		}
		if err := tx.TouchToken(tok, now.Add(time.Minute)); err != nil {
			return err
		}
		got, err := tx.TokenByHash("h1")
		if err != nil || got.Name != "ci" || !got.ReadOnly || got.Admin || len(got.Apps) != 2 || !got.LastUsed.Equal(now.Add(time.Minute)) {
			t.Errorf("TokenByHash = %+v, %v", got, err)
		}
		if err := tx.RemoveToken(got); err != nil {
			return err
		}
		if _, err := tx.TokenByName("ci"); !errors.Is(err, ErrTokenNotFound) {
			t.Errorf("after RemoveToken: %v", err)
		}
		for i := 0; i < 10; i++ {
			app := "shop"
			if i%2 == 1 {
				app = "blog"
			}
			if err := tx.AddEvent(Event{At: now, Who: "root", Op: "config.update", App: app, OK: true}); err != nil {
				return err
			}
		}
		evs, err := tx.Events("shop", 3)
		if err != nil || len(evs) != 3 || evs[0].ID != 9 || evs[0].App != "shop" {
			t.Errorf("Events(shop, 3) = %+v, %v", evs, err)
		}
		if err := tx.PruneEvents(4); err != nil {
			return err
		}
		evs, err = tx.Events("", 100)
		if err != nil || len(evs) != 4 || evs[3].ID != 7 {
			t.Errorf("after PruneEvents(4): %+v, %v", evs, err)
		}
		return tx.SetDashboardSetting("domain", "x.test")
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Tx(ctx, func(tx *Tx) error {
		if v, err := tx.DashboardSetting("domain"); v != "x.test" || err != nil {
			t.Errorf("domain = %q, %v", v, err)
		}
		tx.SetDashboardSetting("domain", "")
		if v, err := tx.DashboardSetting("domain"); v != "" || err != nil {
			t.Errorf("domain after unset = %q, %v", v, err)
		}
		return nil
	})
}
