// Package clustercmd is the scheduler-swarm:cluster-* commands: this
// server becomes a Docker Swarm manager, nodes are added over ssh, listed
// and removed (served by package cluster in the daemon).
package clustercmd

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "scheduler-swarm:cluster-init", Args: "[--advertise-addr ADDR]", Short: "Make this server the Docker Swarm manager (prints the ssh key to authorise on the nodes)", Values: []string{"advertise-addr"}, Run: initCluster},
		&cli.Command{Name: "scheduler-swarm:cluster-add", Args: "[--role worker|manager] ssh://root@HOST[:PORT]", Short: "Add a server to the swarm over ssh (Docker, ports, join, registry CA, Berth's node part)", Values: []string{"role"}, Run: add},
		&cli.Command{Name: "scheduler-swarm:cluster-list", Args: "[--format json]", Short: "List the swarm's nodes: role, state, availability, tasks, free memory", Values: []string{"format"}, Run: list},
		&cli.Command{Name: "scheduler-swarm:cluster-remove", Args: "<host|node-id>", Short: "Drain a node, take it out of the swarm and remove it", Run: remove},
	)
}

func initCluster(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	_, err := api.ClusterInit.Stream(c, c.API, api.ClusterInitRequest{AdvertiseAddr: c.Flag("advertise-addr", "")}, c.Output())
	return err
}

func add(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("No node specified: scheduler-swarm:cluster-add [--role worker|manager] ssh://root@HOST[:PORT]")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	role := c.Flag("role", "") // the daemon's default: worker
	if role != "" && role != "worker" && role != "manager" {
		return cli.Failf("Invalid role %q: use worker or manager", role)
	}
	_, err := api.ClusterAdd.Stream(c, c.API, api.ClusterAddRequest{URL: c.Args[0], Role: role}, c.Output())
	return err
}

func list(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	if f := c.Flag("format", "stdout"); f != "stdout" && f != "json" {
		return cli.Failf("Invalid format: %s; use stdout or json", f)
	}
	res, err := api.ClusterList.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res.Nodes); done || err != nil {
		return err
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOSTNAME\tADDRESS\tROLE\tSTATE\tAVAILABILITY\tTASKS\tFREE MEMORY")
	for _, n := range res.Nodes {
		role := n.Role
		if n.Leader {
			role += " (leader)"
		}
		id := n.ID
		if n.Self {
			id += " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", id, n.Hostname, n.Addr, role, n.State, n.Availability, n.Tasks, bytesIEC(n.FreeMemory))
	}
	tw.Flush()
	c.Println(strings.TrimRight(b.String(), "\n"))
	return nil
}

func remove(c *cli.Ctx) error {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return cli.Failf("No node specified: give its address, hostname or ID (see scheduler-swarm:cluster-list)")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	_, err := api.ClusterRemove.Stream(c, c.API, api.ClusterRemoveRequest{Node: c.Args[0]}, c.Output())
	return err
}

// bytesIEC prints a size in binary units (1.5GiB).
func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
