package docker

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// networkMu serialises EnsureNetwork calls in this process.
var networkMu sync.Mutex

// beforeCreate holds test hooks, by network name, that EnsureNetwork runs
// between choosing a subnet and creating the network: where a creator in
// another process can take the subnet first.
var beforeCreate sync.Map // name -> func(context.Context, netip.Prefix)

// createAttempts bounds how often EnsureNetwork picks another subnet when
// the engine refuses one as taken meanwhile (by a creator in another
// process).
const createAttempts = 8

// EnsureNetwork makes sure a bridge network called name exists, creating
// it with the given labels if not, on a subnet taken from sub (see
// [SubnetPool]; the zero value lets the engine choose). An existing network
// is left as it is (its labels and subnet are not changed). A pool with no
// free subnet left is an error matching [ErrPoolExhausted]. The engine
// refuses a subnet that overlaps another network's: when a creator in
// another process took the chosen one meanwhile, the next free one is
// tried. The engine allows several networks with the same name; if
// concurrent callers (in other processes) create duplicates, all but the
// oldest are removed again.
func (c *Client) EnsureNetwork(ctx context.Context, name string, labels map[string]string, sub SubnetPool) error {
	networkMu.Lock()
	defer networkMu.Unlock()

	if same, err := c.networksNamed(ctx, name); err != nil || len(same) > 0 {
		return err
	}
	fromPool, err := sub.valid()
	if err != nil {
		return fmt.Errorf("docker: ensure network %s: %w", name, err)
	}
	var created client.NetworkCreateResult
	var refused []netip.Prefix // taken meanwhile, by another process
	for attempt := 1; ; attempt++ {
		opts := client.NetworkCreateOptions{Driver: "bridge", Labels: labels}
		var subnet netip.Prefix
		if fromPool {
			if subnet, err = c.freeSubnet(ctx, name, sub, refused); err != nil {
				return err
			}
			opts.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: subnet}}}
			if hook, ok := beforeCreate.Load(name); ok {
				hook.(func(context.Context, netip.Prefix))(ctx, subnet)
			}
		}
		created, err = c.api.NetworkCreate(ctx, name, opts)
		if err == nil {
			break
		}
		if cerrdefs.IsConflict(err) {
			return nil // created meanwhile, by a newer engine that refuses duplicates
		}
		if fromPool && attempt < createAttempts && strings.Contains(strings.ToLower(err.Error()), "overlap") {
			refused = append(refused, subnet)
			continue
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

// freeSubnet picks the first subnet of sub that no engine network, host
// route or refused subnet overlaps.
func (c *Client) freeSubnet(ctx context.Context, name string, sub SubnetPool, refused []netip.Prefix) (netip.Prefix, error) {
	used, routes, err := c.usedSubnets(ctx, sub.Pool)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("docker: ensure network %s: %w", name, err)
	}
	if subnet, ok := nextSubnet(sub.Pool, sub.Bits, append(used, refused...)); ok {
		return subnet, nil
	}
	inPool := 0
	for _, u := range used {
		if u.Overlaps(sub.Pool) {
			inPool++
		}
	}
	msg := fmt.Sprintf("docker: ensure network %s: no free /%d subnet left in the address pool %s (%d networks and routes use it",
		name, sub.Bits, sub.Pool, inPool)
	if len(routes) > 0 {
		msg += ", among them the host's routes " + strings.Join(routes, ", ")
	}
	return netip.Prefix{}, &opError{msg: msg + ")", kind: ErrPoolExhausted}
}
