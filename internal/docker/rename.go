package docker

import (
	"context"

	"github.com/moby/moby/client"
)

// RenameContainer gives a container a new name.
func (c *Client) RenameContainer(ctx context.Context, id, name string) error {
	if _, err := c.api.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name}); err != nil {
		return c.wrap(err, "rename container %s to %s", shortID(id), name)
	}
	return nil
}
