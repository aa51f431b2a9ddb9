package gitserver

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// Ops is the operations table as a key's holder calls it: the calls
// themselves and what each operation declares (api.Mux).
type Ops interface {
	api.Caller
	api.Sessioner
	Access(op string) api.Access
}

var _ Ops = (*api.Mux)(nil)

// keyCaller calls the daemon's operations as an ssh key's holder: every call
// goes through the key's access check. It serves the command table for
// remote commands in both ssh modes.
type keyCaller struct {
	ops Ops
	key store.Key
}

var (
	_ api.Caller    = keyCaller{}
	_ api.Sessioner = keyCaller{}
)

func (k keyCaller) denied(what string) error {
	return api.Errorf(api.CodeForbidden, "Permission denied: key %s may only use the commands of apps %s, not %s", k.key.Name, strings.Join(k.key.Apps, ", "), what)
}

// allow checks one call against the key's access (api.Grant.Denied, the
// same check as API tokens'): admin keys may call everything; other keys
// the operations open to every key, and app-scoped operations on their own
// apps, one app at a time. req is the typed request the command table
// passes (see api.AppRequest).
func (k keyCaller) allow(op string, req any) error {
	g := api.Grant{Admin: k.key.Admin, Apps: k.key.Apps}
	if what := g.Denied(op, k.ops.Access(op), req); what != "" {
		return k.denied(what)
	}
	return nil
}

// who names the key's holder for the audit log.
func (k keyCaller) who(ctx context.Context) context.Context {
	return api.WithWho(ctx, api.Who{Kind: "key", Name: k.key.Name})
}

// scoped gives a scoped key's request its scope (api.ScopedRequest).
func (k keyCaller) scoped(req any) any {
	if s, ok := req.(api.ScopedRequest); ok && !k.key.Admin {
		return s.WithScope(slices.Clone(k.key.Apps))
	}
	return req
}

func (k keyCaller) Call(ctx context.Context, op string, req, resp any, out api.Output) error {
	if err := k.allow(op, req); err != nil {
		return err
	}
	ctx = k.who(ctx)
	req = k.scoped(req)
	if op == api.AppsList.Name && !k.key.Admin {
		var list api.AppList
		if err := k.ops.Call(ctx, op, req, &list, out); err != nil {
			return err
		}
		list.Apps = slices.DeleteFunc(list.Apps, func(a api.AppInfo) bool { return !k.key.MayTouch(a.Name) })
		b, _ := json.Marshal(list)
		return json.Unmarshal(b, resp)
	}
	return k.ops.Call(ctx, op, req, resp, out)
}

func (k keyCaller) Session(ctx context.Context, op string, req, resp any, s *api.Session) error {
	if err := k.allow(op, req); err != nil {
		return err
	}
	return k.ops.Session(k.who(ctx), op, k.scoped(req), resp, s)
}
