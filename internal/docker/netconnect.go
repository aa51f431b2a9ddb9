package docker

import (
	"context"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// NetworkInfo is a network as Berth reads it.
type NetworkInfo struct {
	ID, Name string
	Labels   map[string]string
	// Driver ("bridge", "host", ...) and Scope ("local", "swarm").
	Driver, Scope  string
	Internal, IPv6 bool
	Created        time.Time
	// Containers are the IDs of the containers attached to it.
	Containers []string
}

// ConnectNetwork attaches a container (created or running) to a network,
// with extra DNS names on it. A container already attached is left as it is.
func (c *Client) ConnectNetwork(ctx context.Context, netName, container string, aliases []string) error {
	_, err := c.api.NetworkConnect(ctx, netName, client.NetworkConnectOptions{
		Container:      container,
		EndpointConfig: &network.EndpointSettings{Aliases: aliases},
	})
	// (The engine's words for it have varied between versions.)
	if err != nil && (strings.Contains(err.Error(), "already exists") || strings.Contains(err.Error(), "already attached") || strings.Contains(err.Error(), "already connected")) {
		return nil
	}
	return c.wrap(err, "connect %s to network %s", container, netName)
}

// DisconnectNetwork detaches a container from a network. A container that is
// not attached, or a network or container that does not exist, is not an
// error.
func (c *Client) DisconnectNetwork(ctx context.Context, netName, container string) error {
	_, err := c.api.NetworkDisconnect(ctx, netName, client.NetworkDisconnectOptions{Container: container, Force: true})
	if err == nil || strings.Contains(err.Error(), "is not connected") {
		return nil
	}
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	return c.wrap(err, "disconnect %s from network %s", container, netName)
}

// InspectNetwork reads a network by name or ID; a missing one is ErrNotFound.
func (c *Client) InspectNetwork(ctx context.Context, netName string) (NetworkInfo, error) {
	res, err := c.api.NetworkInspect(ctx, netName, client.NetworkInspectOptions{})
	if err != nil {
		return NetworkInfo{}, c.wrap(err, "inspect network %s", netName)
	}
	return networkInfo(res.Network.Network, res.Network.Containers), nil
}

// ListNetworks lists the networks carrying all of labels.
func (c *Client) ListNetworks(ctx context.Context, labels map[string]string) ([]NetworkInfo, error) {
	f := client.Filters{}
	for k, v := range labels {
		f = f.Add("label", k+"="+v)
	}
	list, err := c.api.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, c.wrap(err, "list networks")
	}
	out := make([]NetworkInfo, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, networkInfo(n.Network, nil))
	}
	return out, nil
}

func networkInfo(n network.Network, eps map[string]network.EndpointResource) NetworkInfo {
	info := NetworkInfo{ID: n.ID, Name: n.Name, Labels: n.Labels, Driver: n.Driver, Scope: n.Scope,
		Internal: n.Internal, IPv6: n.EnableIPv6, Created: n.Created}
	for id := range eps {
		info.Containers = append(info.Containers, id)
	}
	return info
}
