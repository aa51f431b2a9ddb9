package naming

import (
	"maps"
	"slices"
	"strconv"

	"github.com/berthpaas/berth/internal/docker"
)

// What happens to containers at a switch, decided from the engine's list
// alone (labels, not names, say what a container is), so that it can be
// tested without an engine.

// Rename is one container's new name.
type Rename struct{ ID, From, To string }

// PlanRenames returns, in order, the renames that give containers their
// final names. want maps each final name (APP.TYPE.N) to the ID of the
// container that is to hold it, or to "" to keep it free for a container
// still to be created. Any other container of cs holding a wanted name is
// first renamed APP.TYPE.N.<epoch> (TYPE.N from its own labels); with
// retireAll (the switch), so is every other container not named so
// already, to show that it is retiring. When that name is taken, the next
// second is used.
func PlanRenames(n Names, app string, cs []docker.ContainerInfo, want map[string]string, retireAll bool, epoch int64) []Rename {
	keep := map[string]bool{}
	for _, id := range want {
		if id != "" {
			keep[id] = true
		}
	}
	taken := map[string]bool{}
	byID := map[string]docker.ContainerInfo{}
	for _, c := range cs {
		taken[c.Name] = true
		byID[c.ID] = c
	}
	var out []Rename
	for _, c := range cs {
		if keep[c.ID] {
			continue
		}
		typ, i := c.Labels[LabelProcess], Index(c)
		_, blocking := want[c.Name]
		if !blocking && (!retireAll || n.IsRetired(c.Name, app, typ, i)) {
			continue
		}
		e := epoch
		for taken[n.Retired(app, typ, i, e)] {
			e++
		}
		to := n.Retired(app, typ, i, e)
		delete(taken, c.Name)
		taken[to] = true
		out = append(out, Rename{ID: c.ID, From: c.Name, To: to})
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		id := want[name]
		if id == "" || byID[id].Name == name {
			continue
		}
		out = append(out, Rename{ID: id, From: byID[id].Name, To: name})
	}
	return out
}

// SortReplaced sorts the containers a switch replaces. Those that served
// the app's traffic up to the switch (running web containers with a
// published port, of the release and generation that were live) wait out
// wait-to-retire, so that requests and connections they hold can finish.
// Every other one stops at once: processes that take no HTTP traffic
// (workers would otherwise keep running the old code next to the new),
// stopped ones, and those still waiting from an earlier deploy (so quick
// deploys do not pile up generations). live is the release that was live
// (0 for none) and generation its containers' generation.
func SortReplaced(old []docker.ContainerInfo, live int, generation string) (wait, now []docker.ContainerInfo) {
	for _, c := range old {
		if servedTraffic(c, live, generation) {
			wait = append(wait, c)
		} else {
			now = append(now, c)
		}
	}
	return wait, now
}

// servedTraffic reports whether c was one of the proxy's targets for the
// live release and generation.
func servedTraffic(c docker.ContainerInfo, live int, generation string) bool {
	return IsLive(c, live, generation) && c.Labels[LabelProcess] == "web" && c.State == "running" && c.HostPort != 0
}

// IsLive reports whether c belongs to the live release and generation (an
// old container waiting to retire, or a new one before the switch, does not).
func IsLive(c docker.ContainerInfo, live int, generation string) bool {
	return live > 0 && c.Labels[LabelRelease] == strconv.Itoa(live) && c.Labels[LabelGeneration] == generation
}

// Index is the N of a container's TYPE.N.
func Index(c docker.ContainerInfo) int {
	n, _ := strconv.Atoi(c.Labels[LabelIndex])
	return n
}
