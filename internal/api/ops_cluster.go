package api

// The cluster commands (scheduler-swarm:cluster-*): the Docker Swarm this
// server manages and the nodes added to it over ssh.

// ClusterInitRequest makes this server's engine a swarm manager.
type ClusterInitRequest struct {
	// AdvertiseAddr is the address the other nodes reach the manager at;
	// "" lets the engine choose (the address of its default route).
	AdvertiseAddr string `json:"advertise_addr,omitempty"`
}

// ClusterInitResult says what cluster-init found or made.
type ClusterInitResult struct {
	NodeID string `json:"node_id"`
	Addr   string `json:"addr"`
	// Already is set when the engine was a manager before.
	Already bool `json:"already"`
	// PublicKey is the daemon's ssh key, to authorise on each node.
	PublicKey string `json:"public_key"`
}

// ClusterAddRequest adds a node over ssh.
type ClusterAddRequest struct {
	URL  string `json:"url"`            // ssh://root@HOST[:PORT]
	Role string `json:"role,omitempty"` // worker (default) or manager
}

// ClusterNode is one node of the swarm as cluster-list shows it.
type ClusterNode struct {
	ID           string            `json:"id"`
	Hostname     string            `json:"hostname"`
	Addr         string            `json:"addr"`
	Role         string            `json:"role"`
	State        string            `json:"state"`
	Availability string            `json:"availability"`
	Leader       bool              `json:"leader"`
	Self         bool              `json:"self"` // the node this Berth runs on
	Tasks        int               `json:"tasks"`
	MemoryBytes  int64             `json:"memory_bytes"`
	FreeMemory   int64             `json:"free_memory_bytes"` // not reserved by its tasks
	Labels       map[string]string `json:"labels,omitempty"`
	SSH          string            `json:"ssh,omitempty"` // the ssh:// it was added with
}

// ClusterNodeList is every node of the swarm.
type ClusterNodeList struct {
	Nodes []ClusterNode `json:"nodes"`
}

// ClusterRemoveRequest names the node to remove: its address, hostname,
// ID or an unambiguous ID prefix.
type ClusterRemoveRequest struct {
	Node string `json:"node"`
}

// Cluster operations: admin only, they change which machines run apps.
var (
	ClusterInit   = Op[ClusterInitRequest, ClusterInitResult]{"cluster.init", AdminOnly}
	ClusterAdd    = Op[ClusterAddRequest, ClusterNode]{"cluster.add", AdminOnly}
	ClusterList   = Op[Empty, ClusterNodeList]{"cluster.list", AdminOnly}
	ClusterRemove = Op[ClusterRemoveRequest, Empty]{"cluster.remove", AdminOnly}
)
