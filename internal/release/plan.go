package release

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

// Plan is what a release runs: its process types, their commands and how
// many containers of each. It is computed from the release's files and the
// stored formation, with no I/O, so it is tested on its own.
type Plan struct {
	Processes map[string]string // type -> command; "" runs the image's CMD
	Formation map[string]int
	// LockedTypes are the types whose quantity app.json's formation sets:
	// ps:scale refuses to change them.
	LockedTypes []string
	WebPort     int
	// Notes are lines for the deploy log: quantities DOKKU_SCALE changed
	// from the stored formation (an earlier ps:scale).
	Notes []string
}

// Order returns the process types, web first, then by name.
func (p Plan) Order() []string {
	types := make([]string, 0, len(p.Processes))
	for t := range p.Processes {
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

// MakePlan decides a release's processes and formation. Precedence of
// quantities: app.json formation > DOKKU_SCALE > the stored formation (from
// ps:scale) > 1 for web and 0 for other new types. Types the Procfile no
// longer has are dropped. procfile is nil when the source has none: then
// web runs the image's CMD (the "release" type never runs as a process).
func MakePlan(procfile *appfile.Procfile, appJSON *appfile.AppJSON, scale map[string]int, stored map[string]int, exposed []int) (Plan, error) {
	p := Plan{Processes: map[string]string{}, Formation: map[string]int{}, WebPort: DefaultWebPort}
	if len(exposed) > 0 {
		p.WebPort = exposed[0]
	}
	if procfile == nil {
		// Without a Procfile every type runs the image's CMD, as Dokku
		// runs a Dockerfile app's types: web, and those ps:scale started.
		p.Processes["web"] = ""
		for typ, n := range stored {
			if n > 0 && typ != "release" && appfile.ValidateProcessType(typ) == nil {
				p.Processes[typ] = ""
			}
		}
	} else {
		for _, proc := range procfile.Processes {
			if proc.Type == "release" {
				continue
			}
			p.Processes[proc.Type] = proc.Command
		}
		if len(p.Processes) == 0 {
			return p, app.Invalidf("The Procfile has no process type to run (only release)")
		}
	}
	for typ := range p.Processes {
		n, ok := stored[typ]
		if !ok && typ == "web" {
			n = 1
		}
		p.Formation[typ] = n
	}
	for _, typ := range slices.Sorted(maps.Keys(scale)) {
		n := scale[typ]
		if _, ok := p.Processes[typ]; !ok {
			return p, app.Invalidf("DOKKU_SCALE sets %s=%d but %s is not a process type of the Procfile", typ, n, typ)
		}
		if old, ok := stored[typ]; ok && old != n {
			p.Notes = append(p.Notes, fmt.Sprintf("DOKKU_SCALE sets %s=%d, overriding the current %s=%d (as set by ps:scale): DOKKU_SCALE applies at every deploy", typ, n, typ, old))
		}
		p.Formation[typ] = n
	}
	if appJSON != nil {
		for typ, f := range appJSON.Formation {
			if f.Quantity == nil {
				continue
			}
			if _, ok := p.Processes[typ]; !ok {
				return p, app.Invalidf("app.json formation sets %s but %s is not a process type of the Procfile", typ, typ)
			}
			p.Formation[typ] = *f.Quantity
			p.LockedTypes = append(p.LockedTypes, typ)
		}
		slices.Sort(p.LockedTypes)
	}
	return p, nil
}

// ApplyScale changes quantities in formation after validating them against
// the release's process types and app.json's locks.
func ApplyScale(formation map[string]int, processes map[string]string, locked []string, changes map[string]int) (map[string]int, error) {
	out := map[string]int{}
	for t, n := range formation {
		out[t] = n
	}
	for typ, n := range changes {
		if _, ok := processes[typ]; !ok && processes != nil && (!ImageOnly(processes) || typ == "release" || appfile.ValidateProcessType(typ) != nil) {
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

// ImageOnly says a release's processes all run the image's CMD (it has no
// Procfile): ps:scale may then start any process type, each running it.
func ImageOnly(processes map[string]string) bool {
	for _, cmd := range processes {
		if cmd != "" {
			return false
		}
	}
	return len(processes) > 0
}

// DescribeFormation lists the quantities of types, in that order, as the
// deploy log shows them: "web=2 worker=1".
func DescribeFormation(types []string, f map[string]int) string {
	s := ""
	for i, t := range types {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s=%d", t, f[t])
	}
	return s
}

// RollbackPlan is the plan of a rollback to release of: its own processes
// and web port; the current formation for the types it runs, and its own
// formation for those it runs that the current one lacks.
func RollbackPlan(p Plan, of store.Release) Plan {
	p.Processes, p.WebPort = of.Processes, of.WebPort
	for t := range p.Formation {
		if _, ok := p.Processes[t]; !ok {
			delete(p.Formation, t)
		}
	}
	for t := range p.Processes {
		if _, ok := p.Formation[t]; !ok {
			p.Formation[t] = of.Formation[t]
		}
	}
	return p
}

// Command turns a Procfile command into the container's Cmd: variables
// expanded from env, then split into words like a shell would ("" is nil:
// the image's CMD).
func Command(cmd string, env map[string]string) ([]string, error) {
	if cmd == "" {
		return nil, nil
	}
	words, err := app.SplitWords(appfile.ExpandCommand(cmd, env))
	if err != nil {
		return nil, app.Invalidf("Invalid command %q: %v", cmd, err)
	}
	return words, nil
}
