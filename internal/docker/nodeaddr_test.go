package docker

import (
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

// A manager whose engine restarted reports 0.0.0.0 as its address: the
// tasks on it must still be reached at the host its manager address names
// (a route to 0.0.0.0:PORT would reach whichever node's proxy holds it).
func TestNodeAddr(t *testing.T) {
	for _, c := range []struct {
		status, manager, want string
	}{
		{"10.0.0.2", "", "10.0.0.2"},
		{"0.0.0.0", "10.0.0.1:2377", "10.0.0.1"},
		{"", "10.0.0.1:2377", "10.0.0.1"},
		{"0.0.0.0", "", ""}, // a worker has no manager address: unknown
		{"10.0.0.3", "10.0.0.1:2377", "10.0.0.3"},
	} {
		n := swarm.Node{Status: swarm.NodeStatus{Addr: c.status}}
		if c.manager != "" {
			n.ManagerStatus = &swarm.ManagerStatus{Addr: c.manager}
		}
		if got := nodeAddr(n); got != c.want {
			t.Errorf("nodeAddr(status %q, manager %q) = %q, want %q", c.status, c.manager, got, c.want)
		}
	}
}
