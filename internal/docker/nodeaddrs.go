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
		if addr := nodeAddr(n); addr != "" {
			others = append(others, addr)
		}
	}
	sort.Strings(others)
	return local, others, nil
}

// nodeAddr is where a node is reached. A manager may report 0.0.0.0 (its
// listen address, as after its engine restarted): its manager address
// names the host then; with none it is "" (unknown: not routed).
func nodeAddr(n swarm.Node) string {
	addr := n.Status.Addr
	if ip := net.ParseIP(addr); addr == "" || ip != nil && ip.IsUnspecified() {
		addr = ""
		if n.ManagerStatus != nil {
			addr, _, _ = net.SplitHostPort(n.ManagerStatus.Addr)
		}
	}
	return addr
}
