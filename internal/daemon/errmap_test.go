package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

func TestMapError(t *testing.T) {
	engineDown := fmt.Errorf("Cannot connect to the Docker Engine at unix:///var/run/docker.sock\nis it running?: %w", docker.ErrEngineUnavailable)
	tests := []struct {
		name string
		err  error
		code api.Code // "" for nil: not mapped here
		msg  string
	}{
		{"validation", app.Invalidf("No Dockerfile found"), api.CodeInvalid, "No Dockerfile found"},
		{"wrapped validation keeps its line", fmt.Errorf("source: %w", app.Invalidf("The archive is empty")), api.CodeInvalid, "The archive is empty"},
		{"missing app", app.Errorf(store.ErrAppNotFound, "App shop does not exist"), api.CodeAppNotFound, "App shop does not exist"},
		{"bare store sentinel", fmt.Errorf("create shop: %w", store.ErrAppExists), api.CodeConflict, "create shop: app already exists"},
		{"not found", app.Errorf(app.ErrNotFound, "No one-off container x"), api.CodeNotFound, "No one-off container x"},
		{"locked", app.Errorf(app.ErrLocked, "shop is being deployed"), api.CodeLocked, "shop is being deployed"},
		{"engine down", engineDown, api.CodeUnavailable, "Cannot connect to the Docker Engine at unix:///var/run/docker.sock"},
		{"step error", &deploy.StepError{Step: "build", Err: errors.New("build failed: exit 1"), More: []string{"more"}}, api.CodeInvalid, "Deploy failed at step build: build failed: exit 1\nmore"},
		{"step error keeps the code of its cause", &deploy.StepError{Step: "build", Err: engineDown}, api.CodeUnavailable, "Deploy failed at step build: Cannot connect to the Docker Engine at unix:///var/run/docker.sock"},
		{"step error of an API error", &deploy.StepError{Step: "release", Err: api.Errorf(api.CodeConflict, "port taken")}, api.CodeConflict, "Deploy failed at step release: port taken"},
		{"step error of a store sentinel stays invalid", &deploy.StepError{Step: "switch", Err: store.ErrReleaseNotFound}, api.CodeInvalid, "Deploy failed at step switch: release not found"},
		{"full disk", fmt.Errorf("backup: %w", app.NoSpace(&os.PathError{Op: "write", Path: "/b/x", Err: syscall.ENOSPC}, "x", "/b", "back up again")), api.CodeUnavailable, "The disk is full writing x in /b; free space there (df -h /b) and back up again"},
		{"step error of a full disk", &deploy.StepError{Step: "source", Err: app.NoSpace(syscall.ENOSPC, "the source tree", "/d", "deploy again")}, api.CodeUnavailable, "Deploy failed at step source: The disk is full writing the source tree in /d; free space there (df -h /d) and deploy again"},
		{"database disk full", fmt.Errorf("The disk is full writing the database: %w", store.ErrDiskFull), api.CodeUnavailable, "The disk is full writing the database: database disk full"},
		{"API errors pass", api.Errorf(api.CodeForbidden, "no"), "", ""},
		{"unknown", errors.New("disk full"), "", ""},
		{"cancelled", context.Canceled, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mapError(tc.err)
			if tc.code == "" {
				if got != nil {
					t.Fatalf("mapError(%v) = %+v, want nil", tc.err, got)
				}
				return
			}
			if got == nil || got.Code != tc.code || got.Message != tc.msg {
				t.Fatalf("mapError(%v) = %+v, want %s %q", tc.err, got, tc.code, tc.msg)
			}
		})
	}
}

// The mapper is what the mux uses: a missing app reaches a caller as
// app_not_found, whichever package returned it.
func TestMuxMapsDomainErrors(t *testing.T) {
	m := api.NewMux(slog.New(slog.NewTextHandler(io.Discard, nil)), mapError)
	op := api.Op[api.AppRef, api.Empty]{Name: "test.missing"}
	api.Handle(m, op, func(context.Context, api.AppRef, api.Output) (api.Empty, error) {
		return api.Empty{}, fmt.Errorf("look up: %w", app.Errorf(store.ErrAppNotFound, "App shop does not exist"))
	})
	_, err := op.Call(context.Background(), m, api.AppRef{App: "shop"})
	if !errors.Is(err, api.ErrAppNotFound) || err.Error() != "App shop does not exist" {
		t.Fatalf("err = %v, want app_not_found \"App shop does not exist\"", err)
	}
}
