package deploy

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/store"
)

// DefaultWebPort is the port web processes listen on unless the image
// EXPOSEs one.
const DefaultWebPort = 5000

// plan is what a release runs: its process types, their commands and how
// many containers of each. It is computed from the release's files and the
// stored formation, with no I/O, so it is tested on its own.
type plan struct {
	processes map[string]string // type -> command; "" runs the image's CMD
	formation map[string]int
	// lockedTypes are the types whose quantity app.json's formation sets:
	// ps:scale refuses to change them.
	lockedTypes []string
	webPort     int
	// notes are lines for the deploy log: quantities DOKKU_SCALE changed
	// from the stored formation (an earlier ps:scale).
	notes []string
}

// order returns the process types, web first, then by name.
func (p plan) order() []string {
	types := make([]string, 0, len(p.processes))
	for t := range p.processes {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		if (types[i] == "web") != (types[j] == "web") {
			return types[i] == "web"
		}
		return types[i] < types[j]
	})
	return types
}

// makePlan decides a release's processes and formation. Precedence of
// quantities: app.json formation > DOKKU_SCALE > the stored formation (from
// ps:scale) > 1 for web and 0 for other new types. Types the Procfile no
// longer has are dropped. procfile is nil when the source has none: then
// web runs the image's CMD (the "release" type never runs as a process).
func makePlan(procfile *appfile.Procfile, appJSON *appfile.AppJSON, scale map[string]int, stored map[string]int, exposed []int) (plan, error) {
	p := plan{processes: map[string]string{}, formation: map[string]int{}, webPort: DefaultWebPort}
	if len(exposed) > 0 {
		p.webPort = exposed[0]
	}
	if procfile == nil {
		p.processes["web"] = ""
	} else {
		for _, proc := range procfile.Processes {
			if proc.Type == "release" {
				continue
			}
			p.processes[proc.Type] = proc.Command
		}
		if len(p.processes) == 0 {
			return p, app.Invalidf("The Procfile has no process type to run (only release)")
		}
	}
	for typ := range p.processes {
		n, ok := stored[typ]
		if !ok && typ == "web" {
			n = 1
		}
		p.formation[typ] = n
	}
	for _, typ := range slices.Sorted(maps.Keys(scale)) {
		n := scale[typ]
		if _, ok := p.processes[typ]; !ok {
			return p, app.Invalidf("DOKKU_SCALE sets %s=%d but %s is not a process type of the Procfile", typ, n, typ)
		}
		if old, ok := stored[typ]; ok && old != n {
			p.notes = append(p.notes, fmt.Sprintf("DOKKU_SCALE sets %s=%d, overriding the current %s=%d (as set by ps:scale): DOKKU_SCALE applies at every deploy", typ, n, typ, old))
		}
		p.formation[typ] = n
	}
	if appJSON != nil {
		for typ, f := range appJSON.Formation {
			if f.Quantity == nil {
				continue
			}
			if _, ok := p.processes[typ]; !ok {
				return p, app.Invalidf("app.json formation sets %s but %s is not a process type of the Procfile", typ, typ)
			}
			p.formation[typ] = *f.Quantity
			p.lockedTypes = append(p.lockedTypes, typ)
		}
		slices.Sort(p.lockedTypes)
	}
	return p, nil
}

// applyScale changes quantities in formation after validating them against
// the release's process types and app.json's locks.
func applyScale(formation map[string]int, processes map[string]string, locked []string, changes map[string]int) (map[string]int, error) {
	out := map[string]int{}
	for t, n := range formation {
		out[t] = n
	}
	for typ, n := range changes {
		if _, ok := processes[typ]; !ok && processes != nil {
			return nil, app.Invalidf("%s is not a valid process name to scale up", typ)
		}
		if slices.Contains(locked, typ) {
			return nil, app.Invalidf("Unable to scale %s: its quantity is set by the formation key of app.json; change app.json and deploy", typ)
		}
		if n < 0 {
			return nil, app.Invalidf("Invalid count for process type %s", typ)
		}
		out[typ] = n
	}
	return out, nil
}

func describeFormation(types []string, f map[string]int) string {
	s := ""
	for i, t := range types {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", t, f[t])
	}
	return s
}

// rollbackPlan is the plan of a rollback to release of: its own processes
// and web port; the current formation for the types it runs, and its own
// formation for those it runs that the current one lacks.
func rollbackPlan(p plan, of store.Release) plan {
	p.processes, p.webPort = of.Processes, of.WebPort
	for t := range p.formation {
		if _, ok := p.processes[t]; !ok {
			delete(p.formation, t)
		}
	}
	for t := range p.processes {
		if _, ok := p.formation[t]; !ok {
			p.formation[t] = of.Formation[t]
		}
	}
	return p
}
