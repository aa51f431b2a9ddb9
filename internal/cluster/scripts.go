package cluster

import (
	"bufio"
	"fmt"
	"sort"
	"strings"
)

// The scripts cluster-add and cluster-remove run on a node, through
// `bash -s` over ssh (the script on standard input, so no secret is in a
// process's arguments on the manager). Each begins with its values as
// shell-quoted assignments and reports what it found as KEY=VALUE lines
// on standard output (parseFacts).

// DefaultNodeDir is where Berth's node part lives on a node unless the
// node's environment says BERTH_NODE_DIR.
const DefaultNodeDir = "/var/lib/berth-node"

// Ports a node uses. Only the TCP ones can be checked by connecting.
const (
	PortManagement = 2377 // swarm management, on managers only (tcp)
	PortGossip     = 7946 // node gossip (tcp and udp)
	PortOverlay    = 4789 // overlay network traffic (VXLAN, udp)
	PortControl    = 7950 // the node part's control listener (tcp, TLS)
)

// vars renders shell assignments, in a stable order.
func vars(kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(kv[k]))
	}
	return b.String()
}

// probeScript says what the node has: its node dir, docker, apt-get,
// where its engine stands in a swarm and, when it is in none, which of
// the manager's ports it cannot reach (see portCheck).
func probeScript(manager string, ports ...int) string {
	return portCheck(manager, ports...) + `
echo "node_dir=${BERTH_NODE_DIR:-` + DefaultNodeDir + `}"
echo "docker=$(command -v docker || true)"
echo "apt=$(command -v apt-get || true)"
if command -v docker >/dev/null 2>&1; then
	if out=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.ControlAvailable}}' 2>&1); then
		echo "swarm=$out"
		case "$out" in inactive*) check_ports ;; esac
	else
		echo "docker_error=$(printf '%s' "$out" | tail -n 1)"
	fi
fi
`
}

// installDockerScript installs Debian's docker.io and waits until the
// engine answers.
const installDockerScript = `set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q docker.io >&2
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl enable --now docker >&2
fi
for i in $(seq 1 30); do
	if docker info >/dev/null 2>&1; then echo "docker=ok"; exit 0; fi
	sleep 1
done
echo "docker was installed but its engine does not answer: see journalctl -u docker on the node" >&2
exit 3
`

// portCheck defines check_ports: a TCP connection from the node to each
// of the manager's ports, printing blocked=PORT for each that fails and
// checked=PORTS at the end.
func portCheck(manager string, ports ...int) string {
	var ps []string
	for _, p := range ports {
		ps = append(ps, fmt.Sprint(p))
	}
	return vars(map[string]string{"MANAGER": manager, "PORTS": strings.Join(ps, " ")}) + `set -u
probe() {
	if command -v timeout >/dev/null 2>&1; then
		timeout 3 bash -c "exec 3<>/dev/tcp/$MANAGER/$1" 2>/dev/null
	elif command -v nc >/dev/null 2>&1; then
		nc -z -w 3 "$MANAGER" "$1" 2>/dev/null
	else
		bash -c "exec 3<>/dev/tcp/$MANAGER/$1" 2>/dev/null
	fi
}
check_ports() {
	for p in $PORTS; do
		probe "$p" || echo "blocked=$p"
	done
	echo "checked=$PORTS"
}
`
}

// joinScript joins the node's engine to the swarm.
func joinScript(token, advertise, manager string) string {
	return vars(map[string]string{"TOKEN": token, "ADVERTISE": advertise, "MANAGER": manager}) + `set -eu
docker swarm join --token "$TOKEN" --advertise-addr "$ADVERTISE" "$MANAGER:2377" >&2
echo "node_id=$(docker info --format '{{.Swarm.NodeID}}')"
`
}

// trustScript makes the node's engine trust the cluster registry's CA
// (certs.d/REGISTRY/ca.crt, read at each pull), and prints the sha256 of
// the node part's binary in nodeDir, if any.
func trustScript(certsDir, registry, caPEM, nodeDir string) string {
	return vars(map[string]string{"DIR": certsDir + "/" + registry, "CA": caPEM, "NODE_DIR": nodeDir}) + `set -eu
install -d -m 755 "$DIR"
printf '%s\n' "$CA" > "$DIR/ca.crt.tmp"
chmod 644 "$DIR/ca.crt.tmp"
mv -f "$DIR/ca.crt.tmp" "$DIR/ca.crt"
echo "trust=$DIR/ca.crt"
echo "sha=$(sha256sum "$NODE_DIR/berth" 2>/dev/null | cut -d' ' -f1)"
`
}

// copyCommand receives the berth binary on standard input.
func copyCommand(dir string) string {
	d := shellQuote(dir)
	return "mkdir -p " + d + " && chmod 700 " + d + " && cat > " + d + "/berth.new && chmod 755 " + d + "/berth.new && mv -f " + d + "/berth.new " + d + "/berth"
}

// nodePart is what startScript installs and starts.
type nodePart struct {
	Dir         string // the node dir
	ControlAddr string // HOST:7950
	CA          string // PEM
	Cert, Key   string // PEM, the node's certificate from the cluster CA
	Restart     bool   // the binary changed: restart a running one
}

// startScript writes the node part's TLS files and starts `berth
// serve-proxy` from the node dir: a systemd unit (berth-node.service)
// where systemd runs, else a detached process with a pid file.
func startScript(p nodePart) string {
	restart := "0"
	if p.Restart {
		restart = "1"
	}
	return vars(map[string]string{"DIR": p.Dir, "CONTROL": p.ControlAddr, "CA": p.CA, "CERT": p.Cert, "KEY": p.Key, "RESTART": restart}) + `set -eu
umask 077
install -d -m 700 "$DIR/tls"
printf '%s\n' "$CA" > "$DIR/tls/ca.crt"
printf '%s\n' "$CERT" > "$DIR/tls/node.crt"
printf '%s\n' "$KEY" > "$DIR/tls/node.key"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	cat > /etc/systemd/system/berth-node.service.tmp <<UNIT
[Unit]
Description=Berth node part (the proxy of a swarm node)
After=network-online.target docker.service
Wants=network-online.target

[Service]
Environment=BERTH_DATA_DIR=$DIR
Environment=BERTH_PROXY_CONTROL_ADDR=$CONTROL
Environment=BERTH_PROXY_CONTROL_TLS_DIR=$DIR/tls
WorkingDirectory=$DIR
ExecStart=$DIR/berth serve-proxy
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
UNIT
	chmod 644 /etc/systemd/system/berth-node.service.tmp
	if ! cmp -s /etc/systemd/system/berth-node.service.tmp /etc/systemd/system/berth-node.service; then
		RESTART=1
	fi
	mv -f /etc/systemd/system/berth-node.service.tmp /etc/systemd/system/berth-node.service
	systemctl daemon-reload
	systemctl enable berth-node.service >&2
	if [ "$RESTART" = 1 ]; then systemctl restart berth-node.service; else systemctl start berth-node.service; fi
	sleep 1
	if ! systemctl is-active --quiet berth-node.service; then
		echo "berth-node.service did not stay up: $(journalctl -u berth-node.service -n 3 --no-pager 2>/dev/null | tail -n 1)" >&2
		exit 3
	fi
	echo "started=systemd unit berth-node.service"
	exit 0
fi
running=""
if [ -f "$DIR/proxy.pid" ]; then
	pid=$(cat "$DIR/proxy.pid")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' '\n' < "/proc/$pid/environ" | grep -qx "BERTH_DATA_DIR=$DIR"; then
		running=$pid
	fi
fi
if [ -n "$running" ] && [ "$RESTART" = 1 ]; then
	kill "$running" 2>/dev/null || true
	for i in $(seq 1 50); do kill -0 "$running" 2>/dev/null || break; sleep 0.1; done
	running=""
fi
if [ -n "$running" ]; then
	echo "started=already running, pid $running"
	exit 0
fi
cd "$DIR"
BERTH_DATA_DIR="$DIR" BERTH_PROXY_CONTROL_ADDR="$CONTROL" BERTH_PROXY_CONTROL_TLS_DIR="$DIR/tls" \
	setsid nohup "$DIR/berth" serve-proxy </dev/null >>"$DIR/proxy.log" 2>&1 &
pid=$!
echo "$pid" > "$DIR/proxy.pid"
sleep 1
if ! kill -0 "$pid" 2>/dev/null; then
	echo "berth serve-proxy exited at start: $(tail -n 1 "$DIR/proxy.log")" >&2
	exit 3
fi
echo "started=pid $pid (no systemd: $DIR/proxy.pid)"
`
}

// leaveScript takes the node out of the swarm and stops its node part.
func leaveScript(dir string) string {
	return vars(map[string]string{"DIR": dir}) + `set -u
if out=$(docker swarm leave 2>&1); then
	echo "left=yes"
elif printf '%s' "$out" | grep -q "not part of a swarm"; then
	echo "left=already"
else
	echo "left=no $(printf '%s' "$out" | tail -n 1)"
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 && [ -f /etc/systemd/system/berth-node.service ]; then
	systemctl disable --now berth-node.service >/dev/null 2>&1 || true
	rm -f /etc/systemd/system/berth-node.service
	systemctl daemon-reload || true
	echo "node_part=stopped"
elif [ -f "$DIR/proxy.pid" ]; then
	pid=$(cat "$DIR/proxy.pid")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' '\n' < "/proc/$pid/environ" | grep -qx "BERTH_DATA_DIR=$DIR"; then
		kill "$pid" || true
		for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$DIR/proxy.pid"
	echo "node_part=stopped"
fi
`
}

// parseFacts reads the KEY=VALUE lines a script printed; a key printed
// more than once keeps every value, in order.
func parseFacts(out string) map[string][]string {
	facts := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && k != "" && !strings.ContainsAny(k, " \t") {
			facts[k] = append(facts[k], strings.TrimSpace(v))
		}
	}
	return facts
}

// fact is the last value of key, or "".
func fact(facts map[string][]string, key string) string {
	if v := facts[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}
