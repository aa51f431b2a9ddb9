package deploy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
)

// enter for an app whose live release runs on Swarm: the task of TYPE.N
// is found through the manager; one on the manager's own node is entered
// through this engine, as a container is; one on another node is named,
// with the command that enters it there.

// NodeShell runs a shell line on another node of the swarm (the daemon's:
// over the ssh that cluster-add set up).
type NodeShell interface {
	// Run runs line on the node nodeID with s (on a terminal with tty)
	// and returns its exit code; ErrNoNodeShell when Berth has no way to
	// that node, another error when it cannot reach it.
	Run(ctx context.Context, nodeID, line string, tty bool, s Streams) (int, error)
}

// ErrNoNodeShell is NodeShell's answer for a node it has no way to (one
// that joined the swarm without cluster-add).
var ErrNoNodeShell = errors.New("no ssh to the node: it was not added with scheduler-swarm:cluster-add")

// swarmTask is a running task of a Swarm app's live release.
type swarmTask struct {
	dyno    string // TYPE.SLOT
	task    docker.TaskInfo
	service string
}

// swarmEnter runs cmd in the task target (TYPE or TYPE.N) of app when its
// live release runs on Swarm, and reports whether it does.
func (d *Deployer) swarmEnter(ctx context.Context, eng Engine, appName, target string, cmd []string, tty bool, s Streams) (bool, int, error) {
	st, err := d.state(ctx, appName)
	if err != nil || !st.deployed {
		return err != nil, 0, err // not deployed: enter says so as on one host
	}
	sw, svcs, err := d.swarmServices(ctx, appName)
	if err != nil || sw == nil {
		return false, 0, err
	}
	set, err := d.settings(ctx, st.app)
	if err != nil {
		return true, 0, err
	}
	cs, err := eng.ListContainers(ctx, d.names.KindLabels(appName, naming.KindProcess), true)
	if err != nil {
		return true, 0, err
	}
	if !onSwarm(svcs, cs, set) {
		return false, 0, nil
	}
	t, err := findTask(ctx, sw, appName, svcs, set.generation, target)
	if err != nil {
		return true, 0, err
	}
	_, self, err := sw.SwarmManager(ctx)
	if err != nil {
		return true, 0, err
	}
	if t.task.NodeAddr != self || t.task.NodeAddr == "" {
		code, err := d.enterOnNode(ctx, t, cmd, tty, s)
		return true, code, err
	}
	code, err := eng.Exec(ctx, t.task.ContainerID, docker.ExecOptions{Cmd: cmd, TTY: tty, Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, Resize: s.Resize})
	if err != nil {
		c, err := startExitCode(err)
		return true, c, err
	}
	return true, code, nil
}

// enterOnNode runs cmd in task t on its node, through `docker exec` over
// the node's ssh; without one, the error says what to run there.
func (d *Deployer) enterOnNode(ctx context.Context, t swarmTask, cmd []string, tty bool, s Streams) (int, error) {
	node := t.task.NodeAddr
	if node == "" {
		node = t.task.NodeID
	}
	flags := "-i"
	if tty {
		flags = "-it"
	}
	line := fmt.Sprintf("docker exec %s %s %s", flags, t.task.ContainerID, shellWords(cmd))
	if d.nodeShell != nil {
		code, err := d.nodeShell.Run(ctx, t.task.NodeID, line, tty, s)
		if err == nil {
			return code, nil
		}
		if !errors.Is(err, ErrNoNodeShell) {
			return 0, app.Invalidf("Cannot enter %s: it runs on node %s (%s), and %v", t.dyno, t.task.NodeHostname, node, err)
		}
	}
	return 0, app.Invalidf("enter on a Swarm app runs only for tasks on this server and nodes added by scheduler-swarm:cluster-add; %s runs on %s (%s): use ssh root@%s docker exec %s %.12s %s",
		t.dyno, t.task.NodeHostname, node, node, flags, t.task.ContainerID, shellWords(cmd))
}

// findTask is the running task target (TYPE.N, or TYPE's lowest slot) of
// the services of generation.
func findTask(ctx context.Context, sw Swarm, appName string, svcs []docker.ServiceInfo, generation, target string) (swarmTask, error) {
	typ, slot, hasSlot := strings.Cut(target, ".")
	var found *swarmTask
	for _, svc := range svcs {
		if svc.Labels[naming.LabelGeneration] != generation || svc.Labels[naming.LabelProcess] != typ {
			continue
		}
		tasks, err := sw.ServiceTasks(ctx, svc.ID)
		if err != nil {
			return swarmTask{}, err
		}
		for _, t := range tasks {
			if !t.Running() || t.ContainerID == "" {
				continue
			}
			if hasSlot && strconv.Itoa(t.Slot) != slot {
				continue
			}
			if found == nil || t.Slot < found.task.Slot {
				found = &swarmTask{dyno: typ + "." + strconv.Itoa(t.Slot), task: t, service: svc.Name}
			}
		}
	}
	if found == nil {
		return swarmTask{}, app.Errorf(app.ErrNotFound, "No running task %s for %s; see ps:report %s", target, appName, appName)
	}
	return *found, nil
}

// shellWords is cmd as a shell line (each word quoted when it needs it).
func shellWords(cmd []string) string {
	out := make([]string, len(cmd))
	for i, w := range cmd {
		if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`;&|<>()*?[]#~{}!") {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
