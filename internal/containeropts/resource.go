package containeropts

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
	units "github.com/docker/go-units"
)

const resourceNS = "resource"

// ResourceKeys are the resources resource:limit and resource:reserve take,
// in Dokku's order.
var ResourceKeys = []string{"cpu", "memory", "memory-swap", "network", "network-ingress", "network-egress", "nvidia-gpu"}

var memoryRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(b|k|m|g|KB|MB|GB|B)?$`) })

// checkResource checks one value before it is stored.
func checkResource(key, v string) error {
	if v == "clear" {
		return nil
	}
	switch key {
	case "cpu":
		if _, err := parseCPUs(v); err != nil {
			return app.Invalidf("Invalid cpu value %q: a number of CPUs such as 0.5 or 2", v)
		}
	case "memory", "memory-swap":
		if !memoryRE().MatchString(v) {
			return app.Invalidf("Invalid %s value %q: a size such as 512, 512m, 512MB or 1g (a plain number is megabytes)", key, v)
		}
	case "nvidia-gpu":
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			if v != "all" {
				return app.Invalidf("Invalid nvidia-gpu value %q: a number of GPUs or all", v)
			}
		}
	case "network", "network-ingress", "network-egress":
		if strings.ContainsAny(v, " \t\n") {
			return app.Invalidf("Invalid %s value %q", key, v)
		}
	default:
		return app.Invalidf("Unknown resource %q: use one of %s", key, strings.Join(ResourceKeys, ", "))
	}
	return nil
}

// memoryBytes reads a memory value as Dokku passes it to docker: a plain
// number is megabytes.
func memoryBytes(v string) (int64, error) {
	if v != "" && v[len(v)-1] >= '0' && v[len(v)-1] <= '9' {
		v += "m"
	}
	return units.RAMInBytes(v)
}

// applyResources sets a process container's limits and reservation: the
// process type's values over the app's defaults (_default_). The build
// pseudo-type's values are kept but not applied (the build runs through
// the engine's build API); network and nvidia-gpu are kept, not applied.
func applyResources(spec *docker.ContainerSpec, props map[string]string, process string) error {
	get := func(kind, key string) string {
		if v, ok := props[process+"."+kind+"."+key]; ok && v != "" {
			return v
		}
		return props[app.DefaultProcessType+"."+kind+"."+key]
	}
	if v := get("limit", "cpu"); v != "" {
		n, err := parseCPUs(v)
		if err != nil {
			return err
		}
		spec.Host.NanoCPUs = n
	}
	for _, r := range []struct {
		kind, key string
		dst       *int64
	}{{"limit", "memory", &spec.Memory}, {"limit", "memory-swap", &spec.Host.MemorySwap}, {"reserve", "memory", &spec.Host.MemoryReservation}} {
		v := get(r.kind, r.key)
		if v == "" {
			continue
		}
		n, err := memoryBytes(v)
		if err != nil {
			return fmt.Errorf("resource %s %s %q: %w", r.kind, r.key, v, err)
		}
		*r.dst = n
	}
	return nil
}

func (m *Manager) resourceUpdate(ctx context.Context, req api.ResourceChange, out api.Output) (api.Empty, error) {
	if req.Kind != "limit" && req.Kind != "reserve" {
		return api.Empty{}, app.Invalidf("unknown resource kind %q", req.Kind)
	}
	proc := req.Process
	if proc != "" && proc != app.DefaultProcessType {
		if err := app.ValidProcessType(proc); err != nil {
			return api.Empty{}, err
		}
	}
	noun := map[string]string{"limit": "limits", "reserve": "reservation"}[req.Kind]
	for k, v := range req.Values {
		if err := checkResource(k, v); err != nil {
			return api.Empty{}, err
		}
	}
	return api.Empty{}, m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		if req.Clear {
			msg := fmt.Sprintf("clearing %s %s", a.Name, noun)
			if proc != "" && proc != app.DefaultProcessType {
				msg += " (" + proc + ")"
			}
			fmt.Fprintf(out.Stdout, "=====> %s\n", msg)
			if proc == "" {
				props, err := tx.Properties(a.Scope(), resourceNS)
				if err != nil {
					return err
				}
				for k := range props {
					if err := tx.UnsetProperty(a.Scope(), resourceNS, k); err != nil {
						return err
					}
				}
				return nil
			}
			for _, k := range ResourceKeys {
				if err := tx.UnsetProperty(a.Scope(), resourceNS, proc+"."+req.Kind+"."+k); err != nil {
					return err
				}
			}
			return nil
		}
		if proc == "" {
			proc = app.DefaultProcessType
		}
		if len(req.Values) == 0 {
			msg := fmt.Sprintf("resource %s %s information", noun, a.Name)
			if proc == app.DefaultProcessType {
				msg += " [defaults]"
			} else {
				msg += " (" + proc + ")"
			}
			fmt.Fprintf(out.Stdout, "=====> %s\n", msg)
			for _, k := range ResourceKeys {
				v, _, err := tx.Property(a.Scope(), resourceNS, proc+"."+req.Kind+"."+k)
				if err != nil {
					return err
				}
				fmt.Fprintf(out.Stdout, "       %s: %s\n", k, v)
			}
			return nil
		}
		msg := fmt.Sprintf("Setting resource %s for %s", noun, a.Name)
		if proc != app.DefaultProcessType {
			msg += " (" + proc + ")"
		}
		fmt.Fprintf(out.Stdout, "=====> %s\n", msg)
		keys := make([]string, 0, len(req.Values))
		for k := range req.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := req.Values[k]
			prop := proc + "." + req.Kind + "." + k
			if v == "clear" {
				fmt.Fprintf(out.Stdout, "       %s: cleared\n", k)
				if err := tx.UnsetProperty(a.Scope(), resourceNS, prop); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(out.Stdout, "       %s: %s\n", k, v)
			if err := tx.SetProperty(a.Scope(), resourceNS, prop, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (m *Manager) resourceReport(ctx context.Context, req api.AppRef, _ api.Output) (api.ResourceValues, error) {
	res := api.ResourceValues{Values: map[string]string{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		res.Values, err = tx.Properties(a.Scope(), resourceNS)
		return err
	})
	return res, err
}
