package naming

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/docker"
)

// ctr is a process container as the engine lists it.
func ctr(id, name, typ string, i, release int, generation, state string, port int) docker.ContainerInfo {
	return docker.ContainerInfo{ID: id, Name: name, State: state, HostPort: port, Labels: map[string]string{
		LabelProcess: typ, LabelIndex: strconv.Itoa(i), LabelRelease: strconv.Itoa(release), LabelGeneration: generation, LabelKind: KindProcess,
	}}
}

func renameList(rs []Rename) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID+":"+r.From+">"+r.To)
	}
	return strings.Join(out, " ")
}

func TestPlanRenames(t *testing.T) {
	const epoch = 1700000000
	tests := []struct {
		name      string
		prefix    string
		cs        []docker.ContainerInfo
		want      map[string]string
		retireAll bool
		renames   string
	}{
		{
			name: "first deploy: the new containers take their names, nothing retires",
			cs: []docker.ContainerInfo{
				ctr("n1", "shop.web.1.upcoming-1-aaaa", "web", 1, 1, "g1", "running", 32001),
				ctr("n2", "shop.worker.1.upcoming-1-aaaa", "worker", 1, 1, "g1", "running", 0),
			},
			want:      map[string]string{"shop.web.1": "n1", "shop.worker.1": "n2"},
			retireAll: true,
			renames:   "n1:shop.web.1.upcoming-1-aaaa>shop.web.1 n2:shop.worker.1.upcoming-1-aaaa>shop.worker.1",
		},
		{
			name: "deploy: every old container retires first, then the new ones take the names",
			cs: []docker.ContainerInfo{
				ctr("n1", "shop.web.1.upcoming-2-bbbb", "web", 1, 2, "g2", "running", 32002),
				ctr("n2", "shop.worker.1.upcoming-2-bbbb", "worker", 1, 2, "g2", "running", 0),
				ctr("o1", "shop.web.1", "web", 1, 1, "g1", "running", 32001),
				ctr("o2", "shop.worker.1", "worker", 1, 1, "g1", "running", 0),
				ctr("o3", "shop.web.2", "web", 2, 1, "g1", "running", 32003), // scaled down to web=1
			},
			want:      map[string]string{"shop.web.1": "n1", "shop.worker.1": "n2"},
			retireAll: true,
			renames: "o1:shop.web.1>shop.web.1.1700000000 o2:shop.worker.1>shop.worker.1.1700000000 o3:shop.web.2>shop.web.2.1700000000 " +
				"n1:shop.web.1.upcoming-2-bbbb>shop.web.1 n2:shop.worker.1.upcoming-2-bbbb>shop.worker.1",
		},
		{
			name:   "containers already retiring keep their names; a taken epoch moves to the next second",
			prefix: "bt1",
			cs: []docker.ContainerInfo{
				ctr("n1", "bt1-shop.web.1.upcoming-3-cccc", "web", 1, 3, "g3", "running", 32004),
				ctr("o1", "bt1-shop.web.1", "web", 1, 2, "g2", "running", 32002),
				ctr("oo", "bt1-shop.web.1.1700000000", "web", 1, 1, "g1", "running", 32001),
			},
			want:      map[string]string{"bt1-shop.web.1": "n1"},
			retireAll: true,
			renames:   "o1:bt1-shop.web.1>bt1-shop.web.1.1700000001 n1:bt1-shop.web.1.upcoming-3-cccc>bt1-shop.web.1",
		},
		{
			name: "interrupted switch: an old container still holding a final name moves aside, the live one takes it",
			cs: []docker.ContainerInfo{
				ctr("n1", "shop.web.1.upcoming-2-bbbb", "web", 1, 2, "g2", "running", 32002),
				ctr("o1", "shop.web.1", "web", 1, 1, "g1", "running", 32001),
				ctr("o2", "shop.worker.1.1699999999", "worker", 1, 1, "g1", "running", 0),
				ctr("n2", "shop.worker.1", "worker", 1, 2, "g2", "running", 0),
			},
			want:    map[string]string{"shop.web.1": "n1", "shop.worker.1": "n2"},
			renames: "o1:shop.web.1>shop.web.1.1700000000 n1:shop.web.1.upcoming-2-bbbb>shop.web.1",
		},
		{
			name: "reconcile: a name kept free for a container to create; others are left alone",
			cs: []docker.ContainerInfo{
				ctr("k1", "shop.web.1", "web", 1, 2, "g2", "running", 32002),
				ctr("s1", "shop.web.2", "web", 2, 1, "g1", "exited", 0),
				ctr("d1", "shop.web.3.upcoming-3-dddd", "web", 3, 3, "g3", "running", 32005),
			},
			want:    map[string]string{"shop.web.1": "k1", "shop.web.2": ""},
			renames: "s1:shop.web.2>shop.web.2.1700000000",
		},
		{
			name: "nothing to do",
			cs: []docker.ContainerInfo{
				ctr("k1", "shop.web.1", "web", 1, 2, "g2", "running", 32002),
				ctr("o1", "shop.web.1.1699999999", "web", 1, 1, "g1", "running", 32001),
			},
			want:      map[string]string{"shop.web.1": "k1"},
			retireAll: true,
			renames:   "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := renameList(PlanRenames(Names{Prefix: tc.prefix}, "shop", tc.cs, tc.want, tc.retireAll, epoch))
			if got != tc.renames {
				t.Errorf("renames\n got: %s\nwant: %s", got, tc.renames)
			}
		})
	}
}

func TestSortReplaced(t *testing.T) {
	old := []docker.ContainerInfo{
		ctr("web-live", "shop.web.1", "web", 1, 4, "g4", "running", 32001),
		ctr("web2-live", "shop.web.2", "web", 2, 4, "g4", "running", 32002),
		ctr("worker-live", "shop.worker.1", "worker", 1, 4, "g4", "running", 0),
		ctr("web-stopped", "shop.web.3", "web", 3, 4, "g4", "exited", 0),
		ctr("web-waiting", "shop.web.1.1700000000", "web", 1, 3, "g3", "running", 32003),
		ctr("web-other-gen", "shop.web.1.1700000001", "web", 1, 4, "g0", "running", 32004),
		ctr("clock-live", "shop.clock.1", "clock", 1, 4, "g4", "running", 0),
	}
	ids := func(cs []docker.ContainerInfo) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return strings.Join(out, " ")
	}
	wait, now := SortReplaced(old, 4, "g4")
	if got := ids(wait); got != "web-live web2-live" {
		t.Errorf("wait = %s, want the live release's running web containers", got)
	}
	if got := ids(now); got != "worker-live web-stopped web-waiting web-other-gen clock-live" {
		t.Errorf("now = %s", got)
	}
	// Nothing was live (first deploy, or its release was deleted).
	if wait, _ := SortReplaced(old, 0, ""); len(wait) != 0 {
		t.Errorf("wait with no live release = %s", ids(wait))
	}
}

// TestQuickDeploysDoNotPileUp replays successive deploys of an app with
// web=2 and worker=1 on an in-memory list of containers, as the switch
// sees it (no time passes, so wait-to-retire never ends): each switch
// leaves the live containers under their final names, at most one
// generation of old web containers waiting under retiring names, and no
// old worker.
func TestQuickDeploysDoNotPileUp(t *testing.T) {
	n := Names{Prefix: "p"}
	var cs []docker.ContainerInfo
	live, gen := 0, ""
	for d := 1; d <= 5; d++ {
		g := fmt.Sprintf("g%d", d)
		want := map[string]string{}
		var fresh []docker.ContainerInfo
		for _, slot := range []struct {
			typ string
			i   int
		}{{"web", 1}, {"web", 2}, {"worker", 1}} {
			id := fmt.Sprintf("%s.%d@%d", slot.typ, slot.i, d)
			port := 0
			if slot.typ == "web" {
				port = 30000 + 10*d + slot.i
			}
			fresh = append(fresh, ctr(id, n.Upcoming("shop", slot.typ, slot.i, d, g), slot.typ, slot.i, d, g, "running", port))
			want[n.Container("shop", slot.typ, slot.i)] = id
		}
		old := slices.Clone(cs)
		cs = append(fresh, cs...)
		for _, r := range PlanRenames(n, "shop", cs, want, true, 1700000000) { // the same second every time
			for i := range cs {
				if cs[i].ID == r.ID {
					cs[i].Name = r.To
				}
			}
		}
		_, now := SortReplaced(old, live, gen)
		cs = slices.DeleteFunc(cs, func(c docker.ContainerInfo) bool {
			return slices.ContainsFunc(now, func(o docker.ContainerInfo) bool { return o.ID == c.ID })
		})
		live, gen = d, g

		names := map[string]bool{}
		waiting := 0
		for _, c := range cs {
			if names[c.Name] {
				t.Fatalf("deploy %d: two containers named %s", d, c.Name)
			}
			names[c.Name] = true
			typ, i := c.Labels[LabelProcess], Index(c)
			switch {
			case IsLive(c, live, gen):
				if c.Name != n.Container("shop", typ, i) {
					t.Errorf("deploy %d: live %s.%d is named %s", d, typ, i, c.Name)
				}
			case typ == "web" && c.Labels[LabelRelease] == strconv.Itoa(d-1) && n.IsRetired(c.Name, "shop", typ, i):
				waiting++
			default:
				t.Errorf("deploy %d: %s (%s of release %s) is still there", d, c.Name, typ, c.Labels[LabelRelease])
			}
		}
		if len(cs)-waiting != 3 || (d > 1 && waiting != 2) {
			t.Errorf("deploy %d: %d containers, %d of them waiting to retire", d, len(cs), waiting)
		}
	}
}
