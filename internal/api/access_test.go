package api

import (
	"context"
	"testing"
)

func TestMuxRecordsAccess(t *testing.T) {
	m := NewMux(nil, nil)
	Handle(m, AppsInfo, func(context.Context, AppRef, Output) (AppInfo, error) { return AppInfo{}, nil })
	Handle(m, AppsCreate, func(context.Context, AppRef, Output) (AppInfo, error) { return AppInfo{}, nil })
	HandleSession(m, Run, func(context.Context, RunRequest, *Session) (RunResult, error) { return RunResult{}, nil })
	Handle(m, Op[Empty, Empty]{Name: "test.undeclared"}, func(context.Context, Empty, Output) (Empty, error) { return Empty{}, nil })
	for op, want := range map[string]Access{"apps.info": AppScoped, "apps.create": AdminOnly, "run": AppScoped, "test.undeclared": Undeclared, "not.registered": Undeclared} {
		if got := m.Access(op); got != want {
			t.Errorf("Access(%s) = %v, want %v", op, got, want)
		}
	}
	ops := m.Ops()
	if len(ops) != 4 || ops[0].Name != "apps.create" || !ops[2].Session || ops[2].Name != "run" {
		t.Fatalf("Ops() = %+v", ops)
	}
	if _, ok := ops[2].NewRequest().(*RunRequest); !ok {
		t.Errorf("NewRequest of run is %T", ops[2].NewRequest())
	}
}

// TestRequestTargets: what each kind of request tells the access check.
func TestRequestTargets(t *testing.T) {
	for _, tc := range []struct {
		req        any
		app, wide  string
		isWideType bool
	}{
		{AppRef{App: "shop"}, "shop", "", false},
		{ConfigRequest{Scope: Scope{App: "shop"}}, "shop", "", true},
		{ConfigChange{Scope: Scope{Global: true}}, "", "--global", true},
		{PropertyChange{Scope: Scope{App: "a", Global: true}}, "a", "--global", true},
		{PSRequest{All: true}, "", "--all", true},
		{PSRequest{App: "shop"}, "shop", "", true},
		{PortsRequest{All: true}, "", "--all", true},
		{DomainsReportRequest{All: true, Global: true}, "", "--global", true},
		{DomainsReportRequest{All: true}, "", "--all", true},
		{DomainsChange{Scope: Scope{App: "x"}}, "x", "", true},
		{RunRequest{App: "shop"}, "shop", "", false},
		{EnterRequest{App: "shop", Target: "web.1"}, "shop", "", false},
		{CertShow{App: "shop"}, "shop", "", false},
	} {
		ar, ok := tc.req.(AppRequest)
		if !ok {
			t.Errorf("%T is not an AppRequest", tc.req)
			continue
		}
		if got := ar.AppName(); got != tc.app {
			t.Errorf("%T.AppName() = %q, want %q", tc.req, got, tc.app)
		}
		wr, ok := tc.req.(WideRequest)
		if ok != tc.isWideType {
			t.Errorf("%T is a WideRequest: %v, want %v", tc.req, ok, tc.isWideType)
		}
		if ok && wr.Wide() != tc.wide {
			t.Errorf("%T.Wide() = %q, want %q", tc.req, wr.Wide(), tc.wide)
		}
	}
	for _, a := range []Access{Undeclared, AdminOnly, AppScoped, AnyKey} {
		if a.String() == "" {
			t.Errorf("Access(%d) has no name", a)
		}
	}
}
