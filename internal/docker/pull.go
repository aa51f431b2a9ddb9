package docker

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/client"
)

// PullImage pulls ref from its registry, writing one line per layer status
// change to out (nil discards them). It is the only place Berth reaches a
// registry, and only for images an operator names (service images).
func (c *Client) PullImage(ctx context.Context, ref string, out io.Writer) error {
	res, err := c.api.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return c.wrap(err, "pull image %s", ref)
	}
	last := map[string]string{}
	for msg, err := range res.JSONMessages(ctx) {
		if err != nil {
			return c.wrap(err, "pull image %s", ref)
		}
		if msg.Error != nil {
			return fmt.Errorf("docker: pull image %s: %w", ref, errors.New(msg.Error.Message))
		}
		if out != nil && msg.Status != "" && last[msg.ID] != msg.Status {
			last[msg.ID] = msg.Status
			if msg.ID != "" {
				fmt.Fprintf(out, "%s: %s\n", msg.ID, msg.Status)
			} else {
				fmt.Fprintln(out, msg.Status)
			}
		}
	}
	return nil
}

// PauseContainer freezes a running container's processes.
func (c *Client) PauseContainer(ctx context.Context, id string) error {
	_, err := c.api.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	return c.wrap(err, "pause container %s", shortID(id))
}

// UnpauseContainer thaws a paused container.
func (c *Client) UnpauseContainer(ctx context.Context, id string) error {
	_, err := c.api.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	return c.wrap(err, "unpause container %s", shortID(id))
}
