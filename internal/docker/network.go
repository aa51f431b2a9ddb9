package docker

import (
	"cmp"
	"context"
	"slices"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// networkMu serialises EnsureNetwork calls in this process.
var networkMu sync.Mutex

// EnsureNetwork makes sure a bridge network called name exists, creating
// it with the given labels if not. An existing network is left as it is
// (its labels are not changed). The engine allows several networks with
// the same name; if concurrent callers (in other processes) create
// duplicates, all but the oldest are removed again.
func (c *Client) EnsureNetwork(ctx context.Context, name string, labels map[string]string) error {
	networkMu.Lock()
	defer networkMu.Unlock()

	if same, err := c.networksNamed(ctx, name); err != nil || len(same) > 0 {
		return err
	}
	created, err := c.api.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: labels,
	})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return nil // created meanwhile, by a newer engine that refuses duplicates
		}
		return c.wrap(err, "ensure network %s", name)
	}

	// Resolve a race with another creator: keep the oldest network.
	same, err := c.networksNamed(ctx, name)
	if err != nil {
		return err
	}
	if len(same) < 2 {
		return nil
	}
	slices.SortFunc(same, func(a, b network.Summary) int {
		if d := a.Created.Compare(b.Created); d != 0 {
			return d
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if same[0].ID != created.ID {
		if _, err := c.api.NetworkRemove(ctx, created.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return c.wrap(err, "ensure network %s: removing duplicate", name)
		}
	}
	return nil
}

// networksNamed lists the networks whose name is exactly name (the engine's
// name filter also matches substrings).
func (c *Client) networksNamed(ctx context.Context, name string) ([]network.Summary, error) {
	list, err := c.api.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		return nil, c.wrap(err, "list networks named %s", name)
	}
	return slices.DeleteFunc(list.Items, func(n network.Summary) bool { return n.Name != name }), nil
}

// RemoveNetwork removes every network called name (exactly). A network that
// does not exist is not an error; one with containers attached is.
func (c *Client) RemoveNetwork(ctx context.Context, name string) error {
	same, err := c.networksNamed(ctx, name)
	if err != nil {
		return err
	}
	for _, n := range same {
		if _, err := c.api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return c.wrap(err, "remove network %s", name)
		}
	}
	return nil
}
