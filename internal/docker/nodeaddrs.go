package docker

import (
	"context"
	"net"
	"sort"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// NodeAddrs returns the address of this engine's swarm node and, when it
// is a manager, those of the swarm's other ready nodes (sorted), where
// Berth's proxies of those nodes are reached. An engine in no swarm
// answers "", nil, nil; a worker its own address and none.
func (c *Client) NodeAddrs(ctx context.Context) (local string, others []string, err error) {
	sw, err := c.localSwarm(ctx)
	if err != nil {
		return "", nil, err
	}
	if !sw.active {
		return "", nil, nil
	}
	local = sw.addr
	if !sw.manager {
		return local, nil, nil
	}
	nodes, err := c.api.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return "", nil, c.wrap(err, "list swarm nodes")
	}
	for _, n := range nodes.Items {
		if n.ID == sw.nodeID || n.Status.State != swarm.NodeStateReady {
			continue
		}
		addr := n.Status.Addr
		// A manager may report 0.0.0.0 (its listen address): its
		// manager address names the host.
		if ip := net.ParseIP(addr); (addr == "" || ip != nil && ip.IsUnspecified()) && n.ManagerStatus != nil {
			addr, _, _ = net.SplitHostPort(n.ManagerStatus.Addr)
		}
		if addr != "" {
			others = append(others, addr)
		}
	}
	sort.Strings(others)
	return local, others, nil
}
