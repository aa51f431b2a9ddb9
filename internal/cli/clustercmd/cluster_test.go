package clustercmd

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// runCLI runs the command table over fake (package clirun).
var runCLI = clirun.Run

func TestClusterCommands(t *testing.T) {
	t.Parallel()
	nodes := api.ClusterNodeList{Nodes: []api.ClusterNode{
		{ID: "mgr1", Hostname: "a", Addr: "10.0.0.1", Role: "manager", Leader: true, Self: true, State: "ready", Availability: "active", Tasks: 3, FreeMemory: 3 << 30},
		{ID: "wrk2", Hostname: "b", Addr: "10.0.0.2", Role: "worker", State: "down", Availability: "drain", FreeMemory: 512 << 20},
	}}
	replies := map[string]clitest.Reply{
		"cluster.init": {Resp: api.ClusterInitResult{}}, "cluster.add": {Resp: api.ClusterNode{}},
		"cluster.list": {Resp: nodes}, "cluster.remove": {Resp: api.Empty{}},
	}
	clitest.RunCases(t, runCLI, []clitest.Case{
		{Args: []string{"scheduler-swarm:cluster-init"}, Replies: replies, Ops: []string{"cluster.init"}, Reqs: map[string]string{"cluster.init": `{}`}},
		{Args: []string{"scheduler-swarm:cluster-init", "--advertise-addr", "10.0.0.1"}, Replies: replies, Ops: []string{"cluster.init"}, Reqs: map[string]string{"cluster.init": `{"advertise_addr":"10.0.0.1"}`}},
		{Args: []string{"scheduler-swarm:cluster-add", "ssh://root@10.0.0.2"}, Replies: replies, Ops: []string{"cluster.add"}, Reqs: map[string]string{"cluster.add": `{"url":"ssh://root@10.0.0.2"}`}},
		{Args: []string{"scheduler-swarm:cluster-add", "--role", "manager", "ssh://root@10.0.0.2"}, Replies: replies, Ops: []string{"cluster.add"}, Reqs: map[string]string{"cluster.add": `{"url":"ssh://root@10.0.0.2","role":"manager"}`}},
		{Args: []string{"scheduler-swarm:cluster-add", "--role", "boss", "ssh://root@10.0.0.2"}, Code: 1, ErrLine: `Invalid role "boss": use worker or manager`},
		{Args: []string{"scheduler-swarm:cluster-add"}, Code: 1, ErrLine: "No node specified"},
		{Args: []string{"scheduler-swarm:cluster-remove"}, Code: 1, ErrLine: "No node specified"},
		{Args: []string{"scheduler-swarm:cluster-remove", "10.0.0.2"}, Replies: replies, Ops: []string{"cluster.remove"}, Reqs: map[string]string{"cluster.remove": `{"node":"10.0.0.2"}`}},
		{Args: []string{"scheduler-swarm:cluster-list"}, Replies: replies, Ops: []string{"cluster.list"}, Stdout: "" +
			"ID      HOSTNAME  ADDRESS   ROLE              STATE  AVAILABILITY  TASKS  FREE MEMORY\n" +
			"mgr1 *  a         10.0.0.1  manager (leader)  ready  active        3      3.0GiB\n" +
			"wrk2    b         10.0.0.2  worker            down   drain         0      512.0MiB\n"},
		{Args: []string{"scheduler-swarm:cluster-list", "--format", "json"}, Replies: replies, Ops: []string{"cluster.list"},
			Has: []string{`"id":"mgr1"`, `"self":true`, `"free_memory_bytes":536870912`}},
		{Args: []string{"scheduler-swarm:cluster-list", "--format", "yaml"}, Code: 1, ErrLine: "Invalid format"},
	})
}
