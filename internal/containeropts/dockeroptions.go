package containeropts

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

const dockerNS = "docker-options"

// dockerOptions reads every stored option of an app, by key.
func dockerOptions(tx *store.Tx, a store.App) (map[string][]string, error) {
	props, err := tx.Properties(a.Scope(), dockerNS)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for k, v := range props {
		out[k] = splitLines(v)
	}
	return out, nil
}

func splitLines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func writeOptions(tx *store.Tx, a store.App, key string, opts []string) error {
	if len(opts) == 0 {
		return tx.UnsetProperty(a.Scope(), dockerNS, key)
	}
	return tx.SetProperty(a.Scope(), dockerNS, key, strings.Join(opts, "\n"))
}

func (m *Manager) dockerOptionsUpdate(ctx context.Context, req api.DockerOptionsChange, out api.Output) (api.Empty, error) {
	var phases []string
	var err error
	if req.Verb != "clear" || len(req.Phases) > 0 {
		if phases, err = app.ParseDockerOptionPhases(strings.Join(req.Phases, ",")); err != nil {
			return api.Empty{}, err
		}
	}
	options, lifted, err := app.SplitDockerOptions(req.Option)
	if err != nil {
		return api.Empty{}, err
	}
	processes := dedupe(append(append([]string{}, req.Processes...), lifted...))
	if req.Verb == "clear" && len(processes) > 0 && len(phases) == 0 {
		phases = []string{"deploy"}
	}
	if err := app.ValidProcessScope(processes, phases); err != nil {
		return api.Empty{}, err
	}
	switch req.Verb {
	case "add", "remove":
		if len(options) == 0 {
			what := map[string]string{"add": "to add to", "remove": "to remove from"}[req.Verb]
			return api.Empty{}, app.Invalidf("Please specify docker options %s the phase", what)
		}
	case "clear":
		if len(phases) == 0 {
			phases = app.DockerOptionPhases
		}
	default:
		return api.Empty{}, app.Invalidf("unknown docker-options change %q", req.Verb)
	}
	if len(req.ScopedTo) > 0 {
		for _, ph := range phases {
			if ph != "build" {
				return api.Empty{}, app.Invalidf("docker-options of the %s phase need an admin key: they reach the host (-v, --privileged)", ph)
			}
		}
	}
	if req.Verb == "add" {
		for _, ph := range phases {
			for _, o := range options {
				if err := CheckOption(ph, o); err != nil {
					return api.Empty{}, err
				}
			}
		}
	}
	scopes := processes
	if len(scopes) == 0 {
		scopes = []string{app.DefaultProcessType}
	}
	var warnings []string
	err = m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		if req.Verb == "add" && len(processes) > 0 {
			warnings = missingProcessTypes(tx, a, processes)
		}
		for _, proc := range scopes {
			for _, ph := range phases {
				key := app.DockerOptionsKey(ph, proc)
				cur, _, err := tx.Property(a.Scope(), dockerNS, key)
				if err != nil {
					return err
				}
				opts := splitLines(cur)
				switch req.Verb {
				case "add":
					opts = append(opts, options...)
					sort.Strings(opts)
				case "remove":
					opts = remove(opts, options)
				case "clear":
					opts = nil
				}
				if err := writeOptions(tx, a, key, opts); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return api.Empty{}, err
	}
	for _, w := range warnings {
		fmt.Fprintf(out.Stderr, " !     %s\n", w)
	}
	if req.Verb == "clear" {
		for _, proc := range processes {
			for _, ph := range phases {
				fmt.Fprintf(out.Stdout, "-----> Clearing docker-options for %s on phase %s for process %s\n", req.App, ph, proc)
			}
		}
		if len(processes) == 0 {
			if len(req.Phases) == 0 {
				fmt.Fprintf(out.Stdout, "-----> Clearing docker-options for %s on all phases\n", req.App)
			} else {
				for _, ph := range phases {
					fmt.Fprintf(out.Stdout, "-----> Clearing docker-options for %s on phase %s\n", req.App, ph)
				}
			}
		}
	}
	return api.Empty{}, nil
}

// missingProcessTypes warns about --process types the live release does
// not run (the option is kept: the next release may).
func missingProcessTypes(tx *store.Tx, a store.App, processes []string) []string {
	rel, err := tx.LiveRelease(a)
	if err != nil || rel.Processes == nil {
		return nil
	}
	var out []string
	for _, p := range processes {
		if _, ok := rel.Processes[p]; !ok {
			out = append(out, fmt.Sprintf("Process type %s is not in %s's Procfile; the option applies once a release runs it", p, a.Name))
		}
	}
	return out
}

func remove(opts, gone []string) []string {
	var keep []string
outer:
	for _, o := range opts {
		for _, g := range gone {
			if app.SameOption(o, g) {
				continue outer
			}
		}
		keep = append(keep, o)
	}
	return keep
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (m *Manager) dockerOptionsList(ctx context.Context, req api.DockerOptionsQuery, _ api.Output) (api.DockerOptionsListing, error) {
	res := api.DockerOptionsListing{Options: []string{}}
	if req.Phase == "" {
		return res, app.Invalidf("--phase is required")
	}
	if err := app.ValidDockerOptionPhase(req.Phase); err != nil {
		return res, err
	}
	if req.Process != "" {
		if err := app.ValidProcessScope([]string{req.Process}, []string{req.Phase}); err != nil {
			return res, err
		}
	}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		v, _, err := tx.Property(a.Scope(), dockerNS, app.DockerOptionsKey(req.Phase, req.Process))
		res.Options = append(res.Options, splitLines(v)...)
		return err
	})
	return res, err
}

func (m *Manager) dockerOptionsReport(ctx context.Context, req api.AppRef, _ api.Output) (api.DockerOptionsValues, error) {
	var res api.DockerOptionsValues
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		res.Options, err = dockerOptions(tx, a)
		return err
	})
	return res, err
}
