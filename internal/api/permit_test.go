package api

import "testing"

// TestGrantDenied: what an ssh key or an API token may call.
func TestGrantDenied(t *testing.T) {
	admin := Grant{Admin: true}
	scoped := Grant{Apps: []string{"shop", "blog"}}
	readOnly := Grant{Admin: true, ReadOnly: true}
	scopedRO := Grant{Apps: []string{"shop"}, ReadOnly: true}
	for _, tc := range []struct {
		g      Grant
		op     string
		access Access
		req    any
		want   string
	}{
		{admin, "apps.destroy", AdminOnly, AppRef{App: "x"}, ""},
		{admin, "config.update", AppScoped, ConfigChange{Scope: Scope{Global: true}}, ""},
		{scoped, "apps.list", AnyKey, Empty{}, ""},
		{scoped, "apps.destroy", AdminOnly, AppRef{App: "shop"}, "apps.destroy"},
		{scoped, "config.get", AppScoped, ConfigRequest{Scope: Scope{App: "shop"}}, ""},
		{scoped, "config.get", AppScoped, ConfigRequest{Scope: Scope{App: "other"}}, "app other"},
		{scoped, "config.update", AppScoped, ConfigChange{Scope: Scope{Global: true}}, "--global"},
		{scoped, "ps.report", AppScoped, PSRequest{All: true}, "--all"},
		{scoped, "events.list", AppScoped, EventsRequest{}, "events.list without an app"},
		{readOnly, "config.get", AppScoped, ConfigRequest{Scope: Scope{App: "x"}}, ""},
		{readOnly, "keys.list", AdminOnly, Empty{}, ""},
		{readOnly, "config.update", AppScoped, ConfigChange{Scope: Scope{App: "x"}}, "config.update (a change; the caller is read-only)"},
		{readOnly, "not.classified", AnyKey, Empty{}, "not.classified (a change; the caller is read-only)"},
		{scopedRO, "logs", AppScoped, LogsRequest{App: "shop"}, ""},
		{scopedRO, "logs", AppScoped, LogsRequest{App: "blog"}, "app blog"},
		{scopedRO, "ps.restart", AppScoped, PSRequest{App: "shop"}, "ps.restart (a change; the caller is read-only)"},
	} {
		if got := tc.g.Denied(tc.op, tc.access, tc.req); got != tc.want {
			t.Errorf("%+v.Denied(%s, %T) = %q, want %q", tc.g, tc.op, tc.req, got, tc.want)
		}
	}
}

func TestReadsAndChangesDoNotOverlap(t *testing.T) {
	for op := range readOps {
		if changeOps[op] {
			t.Errorf("%s is both a read and a change", op)
		}
	}
	if Classified("no.such.op") || IsRead("no.such.op") {
		t.Error("an unknown operation is classified")
	}
}
