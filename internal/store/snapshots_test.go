package store

import (
	"testing"
	"time"
)

// An app's snapshots are kept by release, forgotten one by one, and go
// with the app.
func TestReleaseSnapshots(t *testing.T) {
	s, _ := openTest(t)
	apps := createApps(t, s, "shop", "blog")
	at := time.UnixMilli(time.Now().UnixMilli())
	mustTx(t, s, func(tx *Tx) error {
		for _, r := range []int{3, 1, 3} {
			if _, err := tx.AddReleaseSnapshot(apps[0], ReleaseSnapshot{Release: r, Kind: "postgres", Service: "db", File: "/f", Bytes: 42, Took: 1500 * time.Millisecond, CreatedAt: at}); err != nil {
				return err
			}
		}
		_, err := tx.AddReleaseSnapshot(apps[1], ReleaseSnapshot{Release: 1, Kind: "postgres", Service: "other", File: "/g"})
		return err
	})
	var got []ReleaseSnapshot
	mustTx(t, s, func(tx *Tx) (err error) { got, err = tx.ReleaseSnapshots(apps[0]); return err })
	if len(got) != 3 || got[0].Release != 1 || got[1].Release != 3 || got[2].Release != 3 || got[1].ID > got[2].ID {
		t.Fatalf("snapshots = %+v", got)
	}
	if g := got[0]; g.AppID != apps[0].ID || g.Bytes != 42 || g.Took != 1500*time.Millisecond || !g.CreatedAt.Equal(at) || g.Service != "db" || g.File != "/f" {
		t.Errorf("snapshot = %+v", g)
	}
	mustTx(t, s, func(tx *Tx) error {
		if err := tx.DeleteReleaseSnapshot(got[0].ID); err != nil {
			return err
		}
		return tx.DeleteApp(apps[0])
	})
	mustTx(t, s, func(tx *Tx) (err error) { got, err = tx.ReleaseSnapshots(apps[0]); return err })
	if len(got) != 0 {
		t.Errorf("after the app went: %+v", got)
	}
	mustTx(t, s, func(tx *Tx) (err error) { got, err = tx.ReleaseSnapshots(apps[1]); return err })
	if len(got) != 1 || got[0].Service != "other" {
		t.Errorf("the other app's: %+v", got)
	}
}
