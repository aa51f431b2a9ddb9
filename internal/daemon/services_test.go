package daemon

import (
	"context"
	"errors"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/deploy"
)

// plainEngine is a deploy.Engine that cannot pull or pause.
type plainEngine struct{ deploy.Engine }

func TestServiceEngine(t *testing.T) {
	down := errors.New("engine down")
	_, err := serviceEngine(func(context.Context) (deploy.Engine, error) { return nil, down })(context.Background())
	if !errors.Is(err, down) {
		t.Errorf("connect error = %v", err)
	}
	_, err = serviceEngine(func(context.Context) (deploy.Engine, error) { return plainEngine{}, nil })(context.Background())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeUnavailable || ae.Message != "the container engine cannot run services" {
		t.Errorf("engine without services = %v", err)
	}
}
