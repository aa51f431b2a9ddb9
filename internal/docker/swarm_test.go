package docker

import (
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/swarm"
)

func TestSwarmStateFrom(t *testing.T) {
	t.Parallel()
	if got := swarmStateFrom(swarm.Info{}); got.State != "inactive" || got.Active() || got.Manager {
		t.Errorf("empty info = %+v, want inactive", got)
	}
	got := swarmStateFrom(swarm.Info{
		NodeID: "n1", NodeAddr: "10.0.0.1", LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true,
		RemoteManagers: []swarm.Peer{{NodeID: "n2", Addr: "10.0.0.2:2377"}, {NodeID: "n1", Addr: "10.0.0.1:2377"}},
		Cluster:        &swarm.ClusterInfo{ID: "c1"},
	})
	want := SwarmState{State: "active", NodeID: "n1", Addr: "10.0.0.1", Manager: true, ClusterID: "c1", Managers: []string{"10.0.0.1:2377", "10.0.0.2:2377"}}
	if !reflect.DeepEqual(got, want) || !got.Active() {
		t.Errorf("swarmStateFrom = %+v, want %+v", got, want)
	}
}

func TestNodeFromCountsRunningTasks(t *testing.T) {
	t.Parallel()
	n := swarm.Node{ID: "w1"}
	n.Description.Hostname = "web-2"
	n.Description.Resources.MemoryBytes = 1000
	n.Description.Engine.EngineVersion = "20.10.24"
	n.Spec.Role = swarm.NodeRoleWorker
	n.Spec.Availability = swarm.NodeAvailabilityActive
	n.Spec.Labels = map[string]string{"disk": "ssd"}
	n.Status = swarm.NodeStatus{State: swarm.NodeStateReady, Addr: "10.0.0.2"}
	tasks := []SwarmTask{
		{NodeID: "w1", DesiredState: "running", MemoryReservation: 300},
		{NodeID: "w1", DesiredState: "running"},
		{NodeID: "w1", DesiredState: "shutdown", MemoryReservation: 500}, // history: not counted
		{NodeID: "m1", DesiredState: "running", MemoryReservation: 100},
	}
	got := nodeFrom(n, tasks)
	want := SwarmNode{ID: "w1", Hostname: "web-2", Addr: "10.0.0.2", Role: "worker", State: "ready", Availability: "active",
		Labels: map[string]string{"disk": "ssd"}, MemoryBytes: 1000, Tasks: 2, ReservedMemory: 300, EngineVersion: "20.10.24"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nodeFrom = %+v\nwant %+v", got, want)
	}
	if got.FreeMemory() != 700 {
		t.Errorf("FreeMemory = %d, want 700", got.FreeMemory())
	}
	// A manager that reports 0.0.0.0 is known by its manager address.
	m := swarm.Node{ID: "m1", Status: swarm.NodeStatus{Addr: "0.0.0.0", State: swarm.NodeStateReady},
		ManagerStatus: &swarm.ManagerStatus{Leader: true, Reachability: swarm.ReachabilityReachable, Addr: "10.0.0.1:2377"}}
	m.Spec.Role = swarm.NodeRoleManager
	gm := nodeFrom(m, tasks)
	if gm.Addr != "10.0.0.1" || !gm.Leader || gm.Reachability != "reachable" || gm.Tasks != 1 {
		t.Errorf("manager = %+v", gm)
	}
	if (SwarmNode{MemoryBytes: 1, ReservedMemory: 5}).FreeMemory() != 0 {
		t.Error("over-reserved node has negative free memory")
	}
}

func TestSortNodesManagersFirst(t *testing.T) {
	t.Parallel()
	nodes := []SwarmNode{{ID: "a", Role: "worker", Hostname: "b"}, {ID: "b", Role: "manager", Hostname: "z"}, {ID: "c", Role: "worker", Hostname: "a"}}
	sortNodes(nodes)
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	if !reflect.DeepEqual(ids, []string{"b", "c", "a"}) {
		t.Errorf("order = %v", ids)
	}
}

func TestTaskFrom(t *testing.T) {
	t.Parallel()
	tk := swarm.Task{ID: "t", ServiceID: "s", NodeID: "n", Slot: 2, DesiredState: swarm.TaskStateRunning,
		Status: swarm.TaskStatus{State: swarm.TaskStateRunning}}
	tk.Spec.Resources = &swarm.ResourceRequirements{Reservations: &swarm.Resources{MemoryBytes: 64}}
	want := SwarmTask{ID: "t", ServiceID: "s", NodeID: "n", Slot: 2, State: "running", DesiredState: "running", MemoryReservation: 64}
	if got := taskFrom(tk); got != want {
		t.Errorf("taskFrom = %+v, want %+v", got, want)
	}
}
