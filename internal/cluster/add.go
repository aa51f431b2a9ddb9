package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
)

// step bounds one script on a node; installing Docker gets longer.
const (
	stepTimeout    = 60 * time.Second
	installTimeout = 10 * time.Minute
	copyTimeout    = 5 * time.Minute
)

// resolve finds the address of a host name (an IP is itself) with the
// system's resolver, an IPv4 one first: Swarm advertises IP addresses.
func resolve(ctx context.Context, host string) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return "", app.Invalidf("Cannot resolve node %s: %v", host, err)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip.String(), nil
		}
	}
	return ips[0].String(), nil
}

// run runs a script on t through `bash -s`, bounded by d.
func (m *Manager) run(ctx context.Context, t Target, d time.Duration, script string) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	out, err := m.c.SSH.Run(ctx, t, "bash -s", strings.NewReader(script))
	return parseFacts(out), err
}

// sshFailed words a failure to reach a node, or of a step on it, as one
// line saying what to do.
func (m *Manager) sshFailed(t Target, step string, err error) error {
	var se *SSHError
	var re *RemoteError
	switch {
	case errors.As(err, &se) && se.HostKey:
		name := t.Host
		if t.Port != 22 {
			name = fmt.Sprintf("'[%s]:%d'", t.Host, t.Port)
		}
		return app.Errorf(app.ErrConflict, "The ssh host key of %s changed since Berth first reached it (a reinstalled server, or another machine at that address): if that is expected, run ssh-keygen -R %s -f %s on this server, then run the command again", t.Host, name, m.knownHosts())
	case errors.As(err, &se) && se.Auth:
		key, kerr := m.c.SSH.PublicKey()
		if kerr != nil {
			key = "(Berth's key could not be read: " + kerr.Error() + ")"
		}
		return app.Errorf(app.ErrConflict, "%s@%s does not accept Berth's ssh key: add this line to /root/.ssh/authorized_keys on %s, then run the command again: %s", t.User, t.Host, t.Host, key)
	case errors.As(err, &se):
		return app.Errorf(app.ErrConflict, "Cannot reach %s over ssh (port %d): %s; check the address and that sshd runs there", t.Host, t.Port, se.Detail)
	case errors.As(err, &re) && re.Code == 127 && strings.Contains(re.Stderr, "bash"):
		return app.Errorf(app.ErrConflict, "%s has no bash: Berth's node scripts need it", t.Host)
	case errors.As(err, &re):
		return fmt.Errorf("on %s, %s failed: %s", t.Host, step, lastLine(re.Stderr))
	}
	return fmt.Errorf("on %s, %s: %w", t.Host, step, err)
}

// knownHosts is where the real ssh client remembers the nodes' host keys.
func (m *Manager) knownHosts() string {
	if o, ok := m.c.SSH.(*OpenSSH); ok {
		return o.KnownHosts
	}
	return "the known_hosts file"
}

// portNames say what each checked port is for.
var portNames = map[int]string{PortManagement: "swarm management", PortGossip: "node gossip"}

func (m *Manager) add(ctx context.Context, req api.ClusterAddRequest, out api.Output) (api.ClusterNode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := stdout(out)
	t, err := ParseTarget(req.URL)
	if err != nil {
		return api.ClusterNode{}, err
	}
	role := req.Role
	if role == "" {
		role = "worker"
	}
	if role != "worker" && role != "manager" {
		return api.ClusterNode{}, app.Invalidf("Invalid role %q: use worker or manager", role)
	}
	eng, st, err := m.manager(ctx)
	if err != nil {
		return api.ClusterNode{}, err
	}
	addr, err := resolve(ctx, t.Host)
	if err != nil {
		return api.ClusterNode{}, err
	}
	managerAddr := st.Addr
	fmt.Fprintf(w, "-----> Adding %s (%s) to the swarm as a %s\n", t, addr, role)

	// 1. What the node has.
	probe := probeScript(managerAddr, PortManagement, PortGossip)
	facts, err := m.run(ctx, t, stepTimeout, probe)
	if err != nil {
		return api.ClusterNode{}, m.sshFailed(t, "the check of Docker", err)
	}
	changed := "nothing was changed" // what a refusal below leaves behind
	if fact(facts, "docker") == "" {
		if fact(facts, "apt") == "" {
			return api.ClusterNode{}, app.Errorf(app.ErrConflict, "%s has no Docker and no apt-get to install it with: install Docker Engine there, then run the command again", t.Host)
		}
		fmt.Fprintf(w, "-----> Installing Docker on %s (apt-get install docker.io)\n", t.Host)
		changed = "Docker was installed, nothing else changed"
		if _, err := m.run(ctx, t, installTimeout, installDockerScript); err != nil {
			return api.ClusterNode{}, m.sshFailed(t, "installing docker.io", err)
		}
		if facts, err = m.run(ctx, t, stepTimeout, probe); err != nil {
			return api.ClusterNode{}, m.sshFailed(t, "the check of Docker", err)
		}
	}
	if e := fact(facts, "docker_error"); e != "" || fact(facts, "swarm") == "" {
		return api.ClusterNode{}, app.Errorf(app.ErrConflict, "Docker on %s does not answer: %s; start it there (systemctl start docker), then run the command again", t.Host, e)
	}
	nodeDir := fact(facts, "node_dir")
	if nodeDir == "" || !strings.HasPrefix(nodeDir, "/") {
		return api.ClusterNode{}, fmt.Errorf("on %s, BERTH_NODE_DIR %q is not an absolute path", t.Host, nodeDir)
	}
	swarmFacts := strings.Fields(fact(facts, "swarm"))
	nodeState, nodeID := swarmFacts[0], ""
	if len(swarmFacts) > 1 {
		nodeID = swarmFacts[1]
	}
	nodes, err := eng.Nodes(ctx)
	if err != nil {
		return api.ClusterNode{}, err
	}
	member := nodeID != "" && slices.ContainsFunc(nodes, func(n docker.SwarmNode) bool { return n.ID == nodeID })
	switch {
	case nodeID == st.NodeID:
		return api.ClusterNode{}, app.Invalidf("%s is this server (the manager Berth runs on, node %s): it is in the swarm already", t.Host, nodeID)
	case nodeState == "active" && member:
		fmt.Fprintf(w, "       %s is already a node of this swarm (node %s)\n", t.Host, nodeID)
		for _, n := range nodes {
			if n.ID == nodeID && n.Role != role && req.Role != "" {
				fmt.Fprintf(w, "       Its role stays %s (docker node promote or demote changes it)\n", n.Role)
			}
		}
	case nodeState == "active":
		return api.ClusterNode{}, app.Errorf(app.ErrConflict, "%s is already in another swarm: run `docker swarm leave` on it first (%s)", t.Host, changed)
	case nodeState != "inactive":
		return api.ClusterNode{}, app.Errorf(app.ErrConflict, "%s's engine is in swarm state %q: run `docker swarm leave --force` on it first (%s)", t.Host, nodeState, changed)
	default:
		// 2. The manager's ports, as the node reaches them (checked by
		// the probe of a node in no swarm).
		if fact(facts, "checked") == "" {
			return api.ClusterNode{}, fmt.Errorf("on %s, the port check printed nothing", t.Host)
		}
		if blocked := facts["blocked"]; len(blocked) > 0 {
			var names []string
			for _, p := range blocked {
				n, _ := strconv.Atoi(p)
				names = append(names, fmt.Sprintf("%s/tcp (%s)", p, portNames[n]))
			}
			return api.ClusterNode{}, app.Errorf(app.ErrConflict, "%s cannot reach the manager %s on port %s: open it on the manager's firewall (and any between) for %s, then run the command again (%s)",
				t.Host, managerAddr, strings.Join(names, " and "), addr, changed)
		}
		fmt.Fprintf(w, "       %s reaches the manager %s on %d/tcp and %d/tcp (udp %d and %d cannot be checked by connecting)\n", t.Host, managerAddr, PortManagement, PortGossip, PortGossip, PortOverlay)
		// 3. The join.
		tokens, err := eng.SwarmJoinTokens(ctx)
		if err != nil {
			return api.ClusterNode{}, err
		}
		token := tokens.Worker
		if role == "manager" {
			token = tokens.Manager
		}
		jf, err := m.run(ctx, t, stepTimeout, joinScript(token, addr, managerAddr))
		if err != nil {
			return api.ClusterNode{}, m.sshFailed(t, "docker swarm join", err)
		}
		if nodeID = fact(jf, "node_id"); nodeID == "" {
			return api.ClusterNode{}, fmt.Errorf("on %s, docker swarm join did not report a node ID", t.Host)
		}
		fmt.Fprintf(w, "-----> %s joined the swarm as a %s (node %s)\n", t.Host, role, nodeID)
		m.c.Log.Info("node joined the swarm", "node", nodeID, "host", t.Host, "role", role)
	}
	if err := m.setRecord(nodeID, record{SSH: t.String(), NodeDir: nodeDir}); err != nil {
		return api.ClusterNode{}, err
	}
	node, err := m.waitReady(ctx, eng, nodeID)
	if err != nil {
		return api.ClusterNode{}, err
	}

	// 4. The registry's CA.
	ca, err := m.c.CA()
	if err != nil {
		return api.ClusterNode{}, fmt.Errorf("the cluster CA: %w", err)
	}
	registry := net.JoinHostPort(managerAddr, strconv.Itoa(m.c.RegistryPort))
	tf, err := m.run(ctx, t, stepTimeout, trustScript(m.c.CertsDir, registry, strings.TrimSpace(string(ca.CertPEM())), nodeDir))
	if err != nil {
		return api.ClusterNode{}, m.sshFailed(t, "installing the registry's CA", err)
	}
	fmt.Fprintf(w, "-----> %s trusts the cluster registry %s (%s/%s/ca.crt)\n", t.Host, registry, m.c.CertsDir, registry)

	// 5. Berth's node part.
	if err := m.installNodePart(ctx, w, t, addr, nodeDir, fact(tf, "sha"), ca); err != nil {
		return api.ClusterNode{}, err
	}
	fmt.Fprintf(w, "=====> %s is a ready %s of the swarm (node %s)\n", t.Host, node.Role, nodeID)
	recs, _ := m.records()
	return toAPI(node, st.NodeID, recs), nil
}

// waitReady waits until the manager sees the node ready.
func (m *Manager) waitReady(ctx context.Context, eng Engine, id string) (docker.SwarmNode, error) {
	deadline := time.Now().Add(m.c.JoinTimeout)
	last := "not listed"
	for {
		nodes, err := eng.Nodes(ctx)
		if err != nil {
			return docker.SwarmNode{}, err
		}
		for _, n := range nodes {
			if n.ID == id {
				if n.State == "ready" {
					return n, nil
				}
				last = n.State
			}
		}
		if time.Now().After(deadline) {
			return docker.SwarmNode{}, fmt.Errorf("node %s joined but is %s after %s: see `docker node ps %s` and the node's docker log", id, last, m.c.JoinTimeout, id)
		}
		select {
		case <-ctx.Done():
			return docker.SwarmNode{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// installNodePart copies the berth binary to the node (when its sha256,
// nodeSHA, is not this one's), writes its TLS files and starts `berth
// serve-proxy` there.
func (m *Manager) installNodePart(ctx context.Context, w io.Writer, t Target, addr, dir, nodeSHA string, ca CA) error {
	sum, err := fileSHA256(m.c.Binary)
	if err != nil {
		return fmt.Errorf("the berth binary: %w", err)
	}
	changed := nodeSHA != sum
	if changed {
		fmt.Fprintf(w, "-----> Copying berth (sha256 %s) to %s:%s/berth\n", sum[:12], t.Host, dir)
		f, err := os.Open(m.c.Binary)
		if err != nil {
			return err
		}
		defer f.Close()
		cctx, cancel := context.WithTimeout(ctx, copyTimeout)
		_, err = m.c.SSH.Run(cctx, t, copyCommand(dir), f)
		cancel()
		if err != nil {
			return m.sshFailed(t, "copying berth", err)
		}
	} else {
		fmt.Fprintf(w, "       %s:%s/berth is this berth already (sha256 %s)\n", t.Host, dir, sum[:12])
	}
	hosts := []string{addr}
	if t.Host != addr {
		hosts = append(hosts, t.Host)
	}
	cert, key, err := ca.IssueServer(hosts...)
	if err != nil {
		return fmt.Errorf("issue the node's certificate: %w", err)
	}
	control := net.JoinHostPort(addr, strconv.Itoa(PortControl))
	facts, err := m.run(ctx, t, stepTimeout, startScript(nodePart{
		Dir: dir, ControlAddr: control, CA: strings.TrimSpace(string(ca.CertPEM())),
		Cert: strings.TrimSpace(string(cert)), Key: strings.TrimSpace(string(key)), Restart: changed,
	}))
	if err != nil {
		return m.sshFailed(t, "starting the node part (berth serve-proxy)", err)
	}
	fmt.Fprintf(w, "-----> Node part on %s: berth serve-proxy, control %s (TLS, %s/tls): %s\n", t.Host, control, dir, fact(facts, "started"))
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
