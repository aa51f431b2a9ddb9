package networks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/store"
)

// Placement is where a new container of an app goes: the network it is
// created on ("" keeps the deployer's choice) and those it joins once
// created, before it starts (Docker names).
type Placement struct {
	Initial    string
	PostCreate []string
}

// Place says where a new container of the app goes (the deployer's
// engine asks it at each container it creates). A network named by
// initial-network or attach-post-create that does not exist is an error:
// the container is not made, and the deploy fails with the old release
// serving.
func (m *Manager) Place(ctx context.Context, appName string) (Placement, error) {
	var initial, postCreate string
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		initial = computed(tx, a.Scope(), keyInitialNetwork)
		postCreate = computed(tx, a.Scope(), keyAttachPostCreate)
		return nil
	})
	if err != nil || (initial == "" && postCreate == "") {
		return Placement{}, err
	}
	eng, err := m.engine(ctx)
	if err != nil {
		return Placement{}, err
	}
	var p Placement
	if initial != "" {
		if p.Initial, err = m.dockerName(ctx, eng, initial); err != nil {
			return Placement{}, err
		}
	}
	for _, n := range splitList(postCreate) {
		dn, err := m.dockerName(ctx, eng, n)
		if err != nil {
			return Placement{}, err
		}
		p.PostCreate = append(p.PostCreate, dn)
	}
	return p, nil
}

// dockerName is the engine's name of the network the user named.
func (m *Manager) dockerName(ctx context.Context, eng Engine, name string) (string, error) {
	if name == "bridge" || name == "host" || name == "none" {
		return name, nil
	}
	n, _, err := m.resolve(ctx, eng, name)
	if errors.Is(err, docker.ErrNotFound) {
		return "", errNoNetwork(name)
	}
	return n.Name, err
}

// Aliases are the names an app's container has on a user network:
// APP.TYPE (shared by the type's containers, so lookups spread over them)
// and APP.TYPE.N, each followed by the tld setting when set.
func Aliases(appName, typ string, index int, tld string) []string {
	out := []string{appName + "." + typ, appName + "." + typ + "." + strconv.Itoa(index)}
	if tld != "" {
		for i := range out {
			out[i] += "." + tld
		}
	}
	return out
}

// AliasesFor are the aliases of a container of the app with these labels
// (none for a one-off container).
func (m *Manager) AliasesFor(ctx context.Context, labels map[string]string) []string {
	if labels[naming.LabelKind] != naming.KindProcess {
		return nil
	}
	index, err := strconv.Atoi(labels[naming.LabelIndex])
	if err != nil {
		return nil
	}
	return Aliases(labels[naming.LabelApp], labels[naming.LabelProcess], index, m.tld(ctx, labels[naming.LabelApp]))
}

func (m *Manager) tld(ctx context.Context, appName string) string {
	var tld string
	m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		tld = computed(tx, a.Scope(), keyTLD)
		return nil
	})
	return tld
}

// AttachDeployed puts the app's running process containers on the
// networks of attach-post-deploy (the deployer's router hook calls it
// when new containers get traffic: deploys, scaling, restarts). A
// container already on a network is left as it is. A network that does
// not exist is an error.
func (m *Manager) AttachDeployed(ctx context.Context, appName string, out api.Output) error {
	var nets, tld string
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		nets, tld = computed(tx, a.Scope(), keyAttachPostDeploy), computed(tx, a.Scope(), keyTLD)
		return nil
	})
	if err != nil || nets == "" {
		return err
	}
	eng, err := m.engine(ctx)
	if err != nil {
		return err
	}
	cs, err := eng.ListContainers(ctx, m.names.KindLabels(appName, naming.KindProcess), false)
	if err != nil {
		return err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, n := range splitList(nets) {
		dn, err := m.dockerName(ctx, eng, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout(out), "-----> Associating app with network %s\n", n)
		for _, c := range cs {
			index, _ := strconv.Atoi(c.Labels[naming.LabelIndex])
			aliases := Aliases(appName, c.Labels[naming.LabelProcess], index, tld)
			if err := eng.ConnectNetwork(ctx, dn, c.ID, aliases); err != nil {
				return fmt.Errorf("attach container %s to network %s: %w", c.Name, n, err)
			}
		}
	}
	return nil
}

// webListeners lists the addresses of the app's running web containers.
func (m *Manager) webListeners(ctx context.Context, appName string) string {
	eng, err := m.engine(ctx)
	if err != nil {
		return ""
	}
	labels := m.names.KindLabels(appName, naming.KindProcess)
	labels[naming.LabelProcess] = "web"
	cs, err := eng.ListContainers(ctx, labels, false)
	if err != nil {
		return ""
	}
	var out []string
	for _, c := range cs {
		if c.HostPort != 0 {
			out = append(out, "127.0.0.1:"+strconv.Itoa(c.HostPort))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func (m *Manager) rebuild(ctx context.Context, req api.AppRef, out api.Output) (api.Empty, error) {
	if err := m.store.Tx(ctx, func(tx *store.Tx) error { _, err := tx.App(req.App); return err }); err != nil {
		return api.Empty{}, err
	}
	fmt.Fprintf(stdout(out), "-----> Ensuring network configuration is in sync for %s\n", req.App)
	return api.Empty{}, m.AttachDeployed(ctx, req.App, out)
}

func (m *Manager) rebuildAll(ctx context.Context, _ api.Empty, out api.Output) (api.Empty, error) {
	var apps []store.App
	if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
		return api.Empty{}, err
	}
	var errs []error
	for _, a := range apps {
		if _, err := m.rebuild(ctx, api.AppRef{App: a.Name}, out); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
		}
	}
	return api.Empty{}, errors.Join(errs...)
}
