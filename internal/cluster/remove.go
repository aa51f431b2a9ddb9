package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
)

// leaveWait bounds the wait for a node that left to be seen down.
const leaveWait = 15 * time.Second

// findNode resolves what the user typed: an exact node ID, then an
// address (or the host it was added with), then a hostname, then an ID
// prefix; more than one match in the first class that has any is
// ambiguous.
func findNode(nodes []docker.SwarmNode, recs map[string]record, name string) (docker.SwarmNode, error) {
	classes := []func(n docker.SwarmNode) bool{
		func(n docker.SwarmNode) bool { return n.ID == name },
		func(n docker.SwarmNode) bool {
			if n.Addr == name {
				return true
			}
			t, err := ParseTarget(recs[n.ID].SSH)
			return err == nil && t.Host == name
		},
		func(n docker.SwarmNode) bool { return n.Hostname == name },
		func(n docker.SwarmNode) bool { return len(name) >= 4 && strings.HasPrefix(n.ID, name) },
	}
	for _, match := range classes {
		var found []docker.SwarmNode
		for _, n := range nodes {
			if match(n) {
				found = append(found, n)
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		}
		var ids []string
		for _, n := range found {
			ids = append(ids, n.ID+" ("+n.Addr+")")
		}
		return docker.SwarmNode{}, app.Invalidf("%q names %d nodes: %s; give a node ID", name, len(found), strings.Join(ids, ", "))
	}
	return docker.SwarmNode{}, app.Errorf(app.ErrNotFound, "No node %q in the swarm: give an address, hostname or ID from scheduler-swarm:cluster-list", name)
}

// live reports whether a task still holds (or is about to hold) its node.
func live(t docker.SwarmTask) bool {
	switch t.State {
	case "complete", "shutdown", "failed", "rejected", "orphaned", "remove":
		return false
	}
	return true
}

func (m *Manager) remove(ctx context.Context, req api.ClusterRemoveRequest, out api.Output) (api.Empty, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := stdout(out)
	if req.Node == "" {
		return api.Empty{}, app.Invalidf("No node specified: give its address, hostname or ID (see scheduler-swarm:cluster-list)")
	}
	eng, st, err := m.manager(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	nodes, err := eng.Nodes(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	recs, err := m.records()
	if err != nil {
		return api.Empty{}, err
	}
	n, err := findNode(nodes, recs, req.Node)
	if err != nil {
		return api.Empty{}, err
	}
	if n.ID == st.NodeID {
		return api.Empty{}, app.Invalidf("Node %s (%s) is this server, where Berth runs: it cannot remove itself", n.ID, n.Addr)
	}
	fmt.Fprintf(w, "-----> Removing node %s (%s, %s)\n", n.ID, n.Addr, n.Role)
	if n.Role == "manager" {
		fmt.Fprintf(w, "       Demoting it to a worker first\n")
		if err := eng.NodeDemote(ctx, n.ID); err != nil {
			return api.Empty{}, err
		}
	}
	if n.Availability != "drain" {
		if err := eng.NodeSetAvailability(ctx, n.ID, "drain"); err != nil {
			return api.Empty{}, err
		}
	}
	if n.State == "ready" {
		fmt.Fprintf(w, "-----> Draining it: its tasks move to the other nodes (at most %s)\n", m.c.DrainTimeout)
		left, err := m.waitDrained(ctx, eng, n.ID)
		if err != nil {
			return api.Empty{}, err
		}
		if left > 0 {
			fmt.Fprintf(w, "       %d tasks still on it after %s; removing it anyway\n", left, m.c.DrainTimeout)
		}
	} else {
		fmt.Fprintf(w, "       It is %s: its tasks are rescheduled by the swarm, not waited for\n", n.State)
	}

	// Over ssh: leave the swarm and stop the node part.
	rec := recs[n.ID]
	target, terr := ParseTarget(rec.SSH)
	if terr != nil {
		target = Target{User: "root", Host: n.Addr, Port: 22}
	}
	dir := rec.NodeDir
	if dir == "" {
		dir = DefaultNodeDir
	}
	left := false
	facts, err := m.run(ctx, target, stepTimeout, leaveScript(dir))
	switch {
	case err != nil:
		fmt.Fprintf(w, "       Could not reach it to leave the swarm (%s): run `docker swarm leave` on it later\n", oneLine(m.sshFailed(target, "docker swarm leave", err)))
	case strings.HasPrefix(fact(facts, "left"), "no"):
		fmt.Fprintf(w, "       docker swarm leave on it failed: %s\n", strings.TrimSpace(strings.TrimPrefix(fact(facts, "left"), "no")))
	default:
		left = true
		fmt.Fprintf(w, "-----> It left the swarm")
		if fact(facts, "node_part") == "stopped" {
			fmt.Fprintf(w, "; its node part is stopped")
		}
		fmt.Fprintln(w)
	}
	force := true
	if left {
		force = !m.waitDown(ctx, eng, n.ID)
	}
	if err := eng.NodeRemove(ctx, n.ID, force); err != nil {
		return api.Empty{}, err
	}
	if err := m.setRecord(n.ID, record{}); err != nil {
		return api.Empty{}, err
	}
	m.c.Log.Info("node removed from the swarm", "node", n.ID, "addr", n.Addr)
	fmt.Fprintf(w, "=====> Node %s (%s) removed\n", n.ID, n.Addr)
	return api.Empty{}, nil
}

// waitDrained waits until no live task is on the node, bounded by
// DrainTimeout; it returns how many are left.
func (m *Manager) waitDrained(ctx context.Context, eng Engine, id string) (int, error) {
	deadline := time.Now().Add(m.c.DrainTimeout)
	for {
		tasks, err := eng.Tasks(ctx, id)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, t := range tasks {
			if t.NodeID == id && live(t) {
				n++
			}
		}
		if n == 0 || time.Now().After(deadline) {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitDown waits (bounded) until the manager sees the node down.
func (m *Manager) waitDown(ctx context.Context, eng Engine, id string) bool {
	deadline := time.Now().Add(leaveWait)
	for time.Now().Before(deadline) {
		nodes, err := eng.Nodes(ctx)
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.ID == id && n.State == "down" {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
	return false
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
