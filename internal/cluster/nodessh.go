package cluster

// NodeTarget is how Berth reaches the swarm node nodeID over ssh: the
// target cluster-add recorded in dataDir (DATA/cluster). false: no record
// (a node that joined some other way).
func NodeTarget(dataDir, nodeID string) (Target, bool, error) {
	m := &Manager{c: Config{DataDir: dataDir}}
	recs, err := m.records()
	if err != nil {
		return Target{}, false, err
	}
	r, ok := recs[nodeID]
	if !ok || r.SSH == "" {
		return Target{}, false, nil
	}
	t, err := ParseTarget(r.SSH)
	if err != nil {
		return Target{}, false, err
	}
	return t, true, nil
}
