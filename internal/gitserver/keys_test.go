package gitserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

const (
	pubMe    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"
	pubOther = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAXhlhD0U7pKNmg6fnxbcqKx1exZ5I1aqBYyjzrk5SgP other@laptop"
)

// TestKeysAddRefuses: what ssh-keys:add refuses, with the line the user
// sees, before anything is stored.
func TestKeysAddRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := testServer(t)
	if _, err := s.keysAdd(ctx, api.KeyAdd{Name: "me", PublicKey: pubMe}, api.Output{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req  api.KeyAdd
		code error
		want string
	}{
		{api.KeyAdd{Name: "-bad", PublicKey: pubOther}, api.ErrInvalid, `Invalid key name "-bad"`},
		{api.KeyAdd{Name: "a b", PublicKey: pubOther}, api.ErrInvalid, "Invalid key name"},
		{api.KeyAdd{Name: "x", PublicKey: pubOther, Apps: []string{"Bad_App"}}, api.ErrInvalid, ""},
		{api.KeyAdd{Name: "x", PublicKey: ""}, api.ErrInvalid, "No ssh public key given"},
		{api.KeyAdd{Name: "x", PublicKey: "not a key"}, api.ErrInvalid, "Invalid ssh public key"},
		{api.KeyAdd{Name: "x", PublicKey: pubOther + "\n" + pubMe + "\n"}, api.ErrInvalid, "The input holds 2 keys"},
		{api.KeyAdd{Name: "me", PublicKey: pubOther}, api.ErrConflict, "A key named me already exists"},
		{api.KeyAdd{Name: "again", PublicKey: pubMe}, api.ErrConflict, "This key is already added, as me"},
	} {
		_, err := s.keysAdd(ctx, tc.req, api.Output{})
		if !errors.Is(err, tc.code) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %v containing %q", tc.req, err, tc.code, tc.want)
		}
	}
	list, _ := s.keysList(ctx, api.Empty{}, api.Output{})
	if len(list.Keys) != 1 || !list.Keys[0].Admin || list.Keys[0].Apps == nil {
		t.Errorf("keys after refusals: %+v", list.Keys)
	}
}

// TestKeysAccess: a key moves between admin and a list of apps.
func TestKeysAccess(t *testing.T) {
	ctx := context.Background()
	s, _ := testServer(t)
	k, err := s.keysAdd(ctx, api.KeyAdd{Name: "ci", PublicKey: pubOther, Apps: []string{"shop"}}, api.Output{})
	if err != nil || k.Admin || len(k.Apps) != 1 {
		t.Fatalf("add limited: %+v %v", k, err)
	}
	if k, err = s.keysAccess(ctx, api.KeyAccess{Name: "ci", Admin: true, Apps: []string{"ignored"}}, api.Output{}); err != nil || !k.Admin || len(k.Apps) != 0 {
		t.Errorf("to admin: %+v %v", k, err)
	}
	if k, err = s.keysAccess(ctx, api.KeyAccess{Name: "ci", Apps: []string{"shop", "blog"}}, api.Output{}); err != nil || k.Admin || strings.Join(k.Apps, ",") != "shop,blog" {
		t.Errorf("to apps: %+v %v", k, err)
	}
	if _, err := s.keysAccess(ctx, api.KeyAccess{Name: "ci"}, api.Output{}); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("neither admin nor apps: %v", err)
	}
	if _, err := s.keysAccess(ctx, api.KeyAccess{Name: "nope", Admin: true}, api.Output{}); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "No ssh key nope") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := s.keysRemove(ctx, api.KeyRef{}, api.Output{}); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("remove without a name: %v", err)
	}
	if k, err := s.keysRemove(ctx, api.KeyRef{Fingerprint: k.Fingerprint}, api.Output{}); err != nil || k.Name != "ci" {
		t.Errorf("remove by fingerprint: %+v %v", k, err)
	}
}
