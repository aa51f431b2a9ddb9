package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/swarmtest"
)

// TestSwarmLogsAndEnter is `logs` and `enter` for an app on Swarm, on a
// rig of two nodes with the real binary on the manager: web=2 and
// worker=2 spread over both nodes; `logs APP` shows the lines of the tasks
// on both nodes, each with its APP[TYPE.SLOT] prefix, in time order; -p
// web only web's; -q no prefix; -t follows new lines. enter runs a command
// in a task on the manager; for a task on the other node it says in one
// line how to reach it until the node is added with cluster-add, and then
// runs it there over ssh (input, output, exit code).
func TestSwarmLogsAndEnter(t *testing.T) {
	t.Parallel()
	host := requireDocker(t)
	requireSwarmRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	step := stepper(t)

	rig := swarmtest.New(t, swarmtest.Options{Nodes: 2})
	manager := rig.Manager()
	step(fmt.Sprintf("rig up in %s", rig.SetupIn.Round(time.Millisecond)))
	if err := manager.LoadImages(ctx, host.Host(), "berth-test/busybox:1"); err != nil {
		t.Fatal(err)
	}
	b := rig.Berth(t, manager, swarmtest.BerthOptions{Bin: filepath.Join(binDir, "berth")})
	cli := newRigCLI(t, ctx, b)
	run, must := cli.run, cli.must
	must(nil, "checks:set", "--global", "default-uptime-seconds", "1")
	must(nil, "checks:set", "--global", "wait-to-retire", "1")
	must(nil, "apps:create", "tale")
	must(nil, "scheduler:set", "tale", "selected", "swarm")
	out := must(bytes.NewReader(appTar(t, map[string]string{
		"Dockerfile":  dockerfile("v1"),
		"Procfile":    "web: testapp web\nworker: testapp worker\n",
		"DOKKU_SCALE": "web=2\nworker=2\n",
	})), "git:from-archive", "tale", "-")
	if !strings.Contains(out, "as Swarm service") {
		t.Fatalf("the deploy did not run on Swarm:\n%s", out)
	}
	step("deployed on Swarm")

	// Where each task runs, by the manager's own view.
	report := must(nil, "ps:report", "tale")
	where := map[string]string{} // TYPE.SLOT -> node address
	for _, l := range strings.Split(report, "\n") {
		m := regexp.MustCompile(`Status (\w+) (\d+):\s+running on ([0-9.]+)`).FindStringSubmatch(l)
		if m != nil {
			where[m[1]+"."+m[2]] = m[3]
		}
	}
	nodes := map[string]bool{}
	for _, a := range where {
		nodes[a] = true
	}
	if len(where) != 4 || len(nodes) != 2 {
		t.Fatalf("want 4 tasks over both nodes, ps:report:\n%s", report)
	}

	// The workers print a line every 200 ms: wait for both to have.
	var logs string
	deadline := time.Now().Add(30 * time.Second)
	for {
		logs = must(nil, "logs", "tale")
		if strings.Contains(logs, "tale[worker.1]: heartbeat") && strings.Contains(logs, "tale[worker.2]: heartbeat") &&
			strings.Contains(logs, "tale[web.1]: listening") && strings.Contains(logs, "tale[web.2]: listening") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs tale does not show every task's lines:\n%s\n--- daemon log:\n%s", logs, b.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
	step("logs shows the lines of the tasks on both nodes")
	// Each line: TIME tale[TYPE.SLOT]: TEXT, in time order.
	var last time.Time
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		ts, rest, _ := strings.Cut(l, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !regexp.MustCompile(`^tale\[(web|worker)\.[12]\]: `).MatchString(rest) {
			t.Fatalf("line %q is not TIME tale[TYPE.SLOT]: TEXT", l)
		}
		if at.Before(last) {
			t.Fatalf("line %q comes before the one above it:\n%s", l, logs)
		}
		last = at
	}
	web := must(nil, "logs", "tale", "-p", "web")
	if strings.Contains(web, "worker") || !strings.Contains(web, "tale[web.1]: listening") || !strings.Contains(web, "tale[web.2]: listening") {
		t.Fatalf("logs -p web:\n%s", web)
	}
	quiet := must(nil, "logs", "tale", "-p", "worker", "-n", "1", "-q")
	if lines := strings.Split(strings.TrimSpace(quiet), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "heartbeat") || !strings.HasPrefix(lines[1], "heartbeat") {
		t.Fatalf("logs -p worker -n 1 -q: want one bare line per task:\n%s", quiet)
	}
	step("logs -p, -n, -q")

	// -t follows: lines printed after it began.
	fctx, fcancel := context.WithTimeout(ctx, 4*time.Second)
	followed, _, _ := b.Run(fctx, nil, "logs", "tale", "-t", "-p", "worker", "-n", "1")
	fcancel()
	if !strings.Contains(followed, "tale[worker.1]: heartbeat") || !strings.Contains(followed, "tale[worker.2]: heartbeat") {
		t.Fatalf("logs -t for 4 s showed no new lines of both workers:\n%s", followed)
	}
	step("logs -t follows")

	// enter: a task on the manager runs the command there; one on the
	// other node, which joined without cluster-add, is named with the
	// command that reaches it.
	var remote string
	for dyno, addr := range where {
		out, code := run(nil, "enter", "tale", dyno, "sh", "-c", "echo inside $DYNO")
		if addr == manager.Addr {
			if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "inside ") {
				t.Fatalf("enter tale %s (on the manager): exit %d\n%s", dyno, code, out)
			}
			continue
		}
		remote = dyno
		if code == 0 || !strings.Contains(out, addr) || !strings.Contains(out, "docker exec -i ") {
			t.Fatalf("enter tale %s (on %s): exit %d, want one line naming the node and the command:\n%s", dyno, addr, code, out)
		}
	}
	if out, code := run(nil, "enter", "tale", "worker.9", "true"); code == 0 || !strings.Contains(out, "No running task worker.9 for tale") {
		t.Fatalf("enter tale worker.9: exit %d\n%s", code, out)
	}
	step("enter on the manager's node; the other node named")

	// Once the node is added with cluster-add (its ssh), enter reaches
	// its tasks over ssh.
	key := regexp.MustCompile(`(?m)^ssh-ed25519 \S+ berth-cluster$`).FindString(must(nil, "scheduler-swarm:cluster-init"))
	if key == "" {
		t.Fatal("cluster-init prints no ssh key to authorise")
	}
	authKeys := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(authKeys, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := rig.Nodes[1]
	if _, err := other.StartSSHD(authKeys); err != nil {
		t.Fatal(err)
	}
	must(nil, "scheduler-swarm:cluster-add", "ssh://root@"+other.Addr)
	out, code := run(strings.NewReader("from stdin\n"), "enter", "tale", remote, "sh", "-c", "echo inside $DYNO; cat; exit 3")
	if code != 3 || !strings.Contains(out, "inside "+remote) || !strings.Contains(out, "from stdin") {
		t.Fatalf("enter tale %s over ssh: exit %d (want 3), want its output and stdin echoed:\n%s\n--- daemon log:\n%s", remote, code, out, b.Log())
	}
	step("enter over the node's ssh")
}
