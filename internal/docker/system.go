package docker

import (
	"context"
	"time"

	"github.com/moby/moby/client"
)

// EngineInfo is what `berth doctor` reads of the engine.
type EngineInfo struct {
	Version string    // the engine's version, e.g. 20.10.24
	RootDir string    // its data root (DockerRootDir), e.g. /var/lib/docker
	Time    time.Time // its clock when it answered; zero if it did not say
}

// Info asks the engine for its version, data root and clock.
func (c *Client) Info(ctx context.Context) (EngineInfo, error) {
	res, err := c.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return EngineInfo{}, c.wrap(err, "info")
	}
	i := EngineInfo{Version: res.Info.ServerVersion, RootDir: res.Info.DockerRootDir}
	if t, err := time.Parse(time.RFC3339Nano, res.Info.SystemTime); err == nil {
		i.Time = t
	}
	return i, nil
}
