package httpapi

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

// Caller calls operations as p: every call passes p's access check
// (api.Grant.Denied, the same as an ssh key's), a scoped principal's
// requests carry its scope (api.ScopedRequest) and apps.list shows it its
// own apps only. A dashboard calls the daemon through it.
func (s *Server) Caller(p Principal) api.Caller {
	return principalCaller{ops: s.cfg.Ops, p: p}
}

type principalCaller struct {
	ops Ops
	p   Principal
}

func (c principalCaller) denied(what string) error {
	if c.p.Admin {
		return api.Errorf(api.CodeForbidden, "Permission denied: token %s may not use %s", c.p.Name, what)
	}
	return api.Errorf(api.CodeForbidden, "Permission denied: token %s may only use the commands of apps %s, not %s", c.p.Name, strings.Join(c.p.Apps, ", "), what)
}

func (c principalCaller) Call(ctx context.Context, op string, req, resp any, out api.Output) error {
	if c.p.ReadOnly && !api.IsRead(op) {
		return api.Errorf(api.CodeForbidden, "Permission denied: token %s is read-only and %s changes something", c.p.Name, op)
	}
	if what := c.p.Denied(op, c.ops.Access(op), req); what != "" {
		return c.denied(what)
	}
	ctx = api.WithWho(ctx, api.Who{Kind: "token", Name: c.p.Name})
	if s, ok := req.(api.ScopedRequest); ok && !c.p.Admin {
		req = s.WithScope(slices.Clone(c.p.Apps))
	}
	if op == api.AppsList.Name && !c.p.Admin {
		var list api.AppList
		if err := c.ops.Call(ctx, op, req, &list, out); err != nil {
			return err
		}
		list.Apps = slices.DeleteFunc(list.Apps, func(a api.AppInfo) bool { return !c.p.MayTouch(a.Name) })
		b, _ := json.Marshal(list)
		return json.Unmarshal(b, resp)
	}
	return c.ops.Call(ctx, op, req, resp, out)
}
