package docker

import (
	"context"
	"encoding/json"
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

// PushImage pushes ref (REGISTRY/REPO:TAG) to its registry and returns
// the digest the registry gave the manifest ("sha256:..."), so the image
// can be named exactly (REGISTRY/REPO@DIGEST) wherever it is pulled.
// Berth pushes only to the registry it runs for the cluster.
func (c *Client) PushImage(ctx context.Context, ref string) (string, error) {
	res, err := c.api.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: "e30="}) // "{}": no credentials
	if err != nil {
		return "", c.wrap(err, "push image %s", ref)
	}
	var digest string
	for msg, err := range res.JSONMessages(ctx) {
		if err != nil {
			return "", c.wrap(err, "push image %s", ref)
		}
		if msg.Error != nil {
			return "", fmt.Errorf("docker: push image %s: %w", ref, errors.New(msg.Error.Message))
		}
		if msg.Aux != nil {
			var aux struct{ Digest string }
			if json.Unmarshal(*msg.Aux, &aux) == nil && aux.Digest != "" {
				digest = aux.Digest
			}
		}
	}
	if digest == "" {
		return "", fmt.Errorf("docker: push image %s: the registry reported no digest", ref)
	}
	return digest, nil
}
