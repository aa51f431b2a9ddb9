package docker

import (
	"context"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// applyLogMaxSize caps a container's log at size (logs:set max-size) as
// Dokku does: only for the json-file and local drivers (the container's,
// else the engine's default), which take max-size; other drivers refuse
// the option. "" and "unlimited" leave the engine's default; a max-size the
// container's options already give wins.
func (c *Client) applyLogMaxSize(ctx context.Context, host *container.HostConfig, size string) {
	if size == "" || size == "unlimited" {
		return
	}
	driver := host.LogConfig.Type
	if driver == "" {
		res, err := c.api.Info(ctx, client.InfoOptions{})
		if err != nil {
			return
		}
		driver = res.Info.LoggingDriver
	}
	if driver != "json-file" && driver != "local" {
		return
	}
	if host.LogConfig.Config == nil {
		host.LogConfig.Config = map[string]string{}
	}
	if _, set := host.LogConfig.Config["max-size"]; !set {
		host.LogConfig.Config["max-size"] = size
	}
}
