package services

import (
	"context"
	"errors"
	"fmt"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// Networks. Each service's container is created on its own network, and
// each app with links has its own; a service is attached, under its DNS
// name (the host of its URL), to the network of every app linked to it. So
// an app's containers reach the services linked to it and nothing else of
// Berth's: Docker keeps bridge networks apart, by name and by address.
//
// An app that was never linked has no network of its own: its containers
// run on the engine's default bridge, where no service lives. (Docker's
// default address pools hold about 30 bridge networks; a network for every
// app would stop the deploys of the 31st.) Once linked, an app keeps its
// network until it is destroyed or renamed, so its containers do not move
// between networks from one deploy to the next.
//
// The networks' subnets come from Berth's own pool (BERTH_NETWORK_POOL,
// Config.NetworkPool), not from the engine's default pools, which a host
// with many linked apps and services would use up: a /26 for a service's
// network, which holds its one container; a /24 for an app's, which holds
// the app's containers (old and new during a deploy, one-off runs) and its
// linked services. See docs/services.md.

// The sizes of the networks' subnets (prefix lengths).
const (
	serviceSubnetBits = 26
	appSubnetBits     = 24
)

// subnets is where a network of bits bits comes from: the pool, or the
// engine's choice when there is none.
func (m *Manager) subnets(bits int) docker.SubnetPool {
	if !m.netPool.IsValid() {
		return docker.SubnetPool{}
	}
	return docker.SubnetPool{Pool: m.netPool, Bits: bits}
}

// poolHint adds to an exhausted pool's error which setting to change.
func poolHint(err error) error {
	if errors.Is(err, docker.ErrPoolExhausted) {
		return fmt.Errorf("%w: set BERTH_NETWORK_POOL in berth.conf to a larger or another free private range and restart the daemon", err)
	}
	return err
}

// NetworkFor is the network an app's containers join: the app's own when it
// has links (made sure to exist, with the linked services attached), or had
// them; "" (the default bridge) for an app that never had links. An error
// means the app's network could not be made (its address pool is full): the
// deploy stops there, saying so, rather than at container creation.
func (m *Manager) NetworkFor(ctx context.Context, appName string) (string, error) {
	links, err := m.appLinks(ctx, appName)
	if err != nil {
		return "", nil
	}
	net := m.names.AppNetwork(appName)
	eng, err := m.engine(ctx)
	if err != nil {
		if len(links) > 0 {
			return net, nil // the deploy fails on the engine anyway
		}
		return "", nil
	}
	if len(links) == 0 {
		if _, err := eng.InspectNetwork(ctx, net); err != nil {
			return "", nil
		}
		return net, nil
	}
	if _, err := m.ensureAppNetwork(ctx, eng, appName); err != nil {
		return "", err
	}
	if err := m.attachServices(ctx, eng, appName, links); err != nil {
		m.log.Warn("linked services not attached to the app's network", "app", appName, "err", err)
	}
	return net, nil
}

// appLinks reads an app's links.
func (m *Manager) appLinks(ctx context.Context, appName string) ([]store.Link, error) {
	var links []store.Link
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		links, err = tx.AppLinks(a)
		return err
	})
	return links, err
}

// ensureAppNetwork makes sure an app's network exists.
func (m *Manager) ensureAppNetwork(ctx context.Context, eng Engine, appName string) (string, error) {
	net := m.names.AppNetwork(appName)
	return net, poolHint(eng.EnsureNetwork(ctx, net, m.names.AppNetworkLabels(appName), m.subnets(appSubnetBits)))
}

// attachServices makes sure the app's network exists and the containers of
// the services in links are attached to it.
func (m *Manager) attachServices(ctx context.Context, eng Engine, appName string, links []store.Link) error {
	net, err := m.ensureAppNetwork(ctx, eng, appName)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		errs = append(errs, m.attachService(ctx, eng, l.Service, net))
	}
	return errors.Join(errs...)
}

// attachService attaches a service's container to network under the
// service's DNS name. A service without a container is attached when it is
// created.
func (m *Manager) attachService(ctx context.Context, eng Engine, svc store.Service, net string) error {
	err := eng.ConnectNetwork(ctx, net, m.serviceContainer(svc), serviceAliases(svc.Kind, svc.Name))
	if errors.Is(err, docker.ErrNotFound) {
		return nil
	}
	return err
}

// attachAppContainers attaches the app's containers to its network: those
// started before the app had a network (on the default bridge) or before
// networks were per app (on the shared one), so they reach a newly linked
// service at once, without a redeploy.
func (m *Manager) attachAppContainers(ctx context.Context, eng Engine, appName, net string) error {
	cs, err := eng.ListContainers(ctx, m.names.AppLabels(appName), true)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if err := eng.ConnectNetwork(ctx, net, c.ID, nil); err != nil && !errors.Is(err, docker.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// linkNetwork attaches a newly linked service to the app's network, and the
// app's running containers too, so the service's name resolves in them at
// once. A failure is reported, not fatal: the link is recorded, and the
// next deploy of the app or start of the daemon attaches them.
func (m *Manager) linkNetwork(ctx context.Context, svc store.Service, appName string, out api.Output) {
	err := func() error {
		eng, err := m.engine(ctx)
		if err != nil {
			return err
		}
		net, err := m.ensureAppNetwork(ctx, eng, appName)
		if err != nil {
			return err
		}
		if err := m.attachService(ctx, eng, svc, net); err != nil {
			return err
		}
		return m.attachAppContainers(ctx, eng, appName, net)
	}()
	if err != nil {
		m.log.Warn("service not attached to the app's network", "kind", svc.Kind, "name", svc.Name, "app", appName, "err", err)
		fmt.Fprintf(out.Stdout, "       Warning: %s service %s is not yet reachable from %s (%v); the next deploy of the app or start of the daemon attaches it\n", svc.Kind, svc.Name, appName, err)
	}
}

// unlinkNetwork detaches an unlinked service from the app's network.
func (m *Manager) unlinkNetwork(ctx context.Context, svc store.Service, appName string, out api.Output) {
	err := func() error {
		eng, err := m.engine(ctx)
		if err != nil {
			return err
		}
		return eng.DisconnectNetwork(ctx, m.names.AppNetwork(appName), m.serviceContainer(svc))
	}()
	if err != nil {
		m.log.Error("unlinked service still attached to the app's network", "kind", svc.Kind, "name", svc.Name, "app", appName, "err", err)
		fmt.Fprintf(out.Stdout, "       Warning: %s service %s could not be detached from %s's network (%v); the next start of the service or the daemon detaches it\n", svc.Kind, svc.Name, appName, err)
	}
}

// ensureServiceNetwork makes sure a service's own network exists.
func (m *Manager) ensureServiceNetwork(ctx context.Context, eng Engine, svc store.Service) error {
	return poolHint(eng.EnsureNetwork(ctx, m.names.ServiceNetwork(svc.Kind, svc.Name), m.names.ServiceLabels(svc.Kind, svc.Name), m.subnets(serviceSubnetBits)))
}

// syncServiceNetworks puts a service's container (created, running or
// stopped) on the networks it belongs to: its own and those of the apps
// linked to it; then takes it off any other app's network and the old
// shared one. Attaching comes first, so a linked app never loses the
// service's name on the way.
func (m *Manager) syncServiceNetworks(ctx context.Context, eng Engine, svc store.Service) error {
	det, err := eng.InspectContainer(ctx, m.serviceContainer(svc))
	if errors.Is(err, docker.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var links []store.Link
	if svc.ID != 0 {
		if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { links, err = tx.ServiceLinks(svc); return err }); err != nil {
			return err
		}
	}
	if err := m.ensureServiceNetwork(ctx, eng, svc); err != nil {
		return err
	}
	own := m.names.ServiceNetwork(svc.Kind, svc.Name)
	want := map[string]bool{own: true}
	if err := m.attachService(ctx, eng, svc, own); err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		net, err := m.ensureAppNetwork(ctx, eng, l.App)
		if err == nil {
			err = m.attachService(ctx, eng, svc, net)
		}
		want[net] = true
		errs = append(errs, err)
	}
	for net := range det.Networks {
		if want[net] {
			continue
		}
		if _, isApp := m.names.AppOfNetwork(net); isApp || net == m.names.SharedNetwork() {
			errs = append(errs, eng.DisconnectNetwork(ctx, net, det.ID))
		}
	}
	return errors.Join(errs...)
}

// SyncNetworks puts every service and linked app on its networks, at daemon
// start. It is also how an install from before per-app networks moves off
// the shared one without stopping anything: first each linked app's
// containers join the app's network (they keep the shared one, where their
// published ports live, until the next deploy replaces them), then each
// service is attached to its own network and its apps' networks and only
// then detached from the shared one; the shared network is removed once no
// container is left on it.
func (m *Manager) SyncNetworks(ctx context.Context) {
	var svcs []store.Service
	apps := map[string]bool{}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if svcs, err = tx.Services(""); err != nil {
			return err
		}
		for _, svc := range svcs {
			links, err := tx.ServiceLinks(svc)
			if err != nil {
				return err
			}
			for _, l := range links {
				apps[l.App] = true
			}
		}
		return nil
	})
	if err != nil {
		m.log.Error("networks not checked", "err", err)
		return
	}
	eng, err := m.engine(ctx)
	if err != nil {
		m.log.Warn("networks not checked: no engine", "err", err)
		return
	}
	shared := m.names.SharedNetwork()
	sharedInfo, sharedErr := eng.InspectNetwork(ctx, shared)
	if sharedErr == nil {
		// Containers of linked apps on the shared network: they join
		// their app's network before the services leave the shared one.
		for appName := range apps {
			net, err := m.ensureAppNetwork(ctx, eng, appName)
			if err == nil {
				err = m.attachAppContainers(ctx, eng, appName, net)
			}
			if err != nil {
				m.log.Error("app's containers not attached to its network", "app", appName, "err", err)
			}
		}
	}
	for _, svc := range svcs {
		unlock := m.lock(svc.Kind, svc.Name)
		if err := m.syncServiceNetworks(ctx, eng, svc); err != nil {
			m.log.Error("service's networks not set up", "kind", svc.Kind, "name", svc.Name, "err", err)
		}
		unlock()
	}
	if sharedErr != nil {
		return
	}
	if sharedInfo, err = eng.InspectNetwork(ctx, shared); err == nil && len(sharedInfo.Containers) > 0 {
		m.log.Info("containers left on the shared network until their app's next deploy", "network", shared, "containers", len(sharedInfo.Containers))
		return
	}
	if err := eng.RemoveNetwork(ctx, shared); err != nil {
		m.log.Warn("shared network not removed", "network", shared, "err", err)
		return
	}
	m.log.Info("shared network removed: every service and linked app has its own", "network", shared)
}

// OnAppDestroyed detaches the services from a destroyed app's network and
// removes it (its containers are gone).
func (m *Manager) OnAppDestroyed(ctx context.Context, appName string) {
	eng, err := m.engine(ctx)
	if err != nil {
		return
	}
	m.removeAppNetwork(ctx, eng, appName)
}

// OnAppRenamed moves the app's links to the network of its new name: the
// old network goes, the new one is made and its services attached (the
// app's containers, named after the app, are recreated by the rename).
func (m *Manager) OnAppRenamed(ctx context.Context, from, to string) {
	eng, err := m.engine(ctx)
	if err != nil {
		return
	}
	m.removeAppNetwork(ctx, eng, from)
	links, err := m.appLinks(ctx, to)
	if err != nil || len(links) == 0 {
		return
	}
	if err := m.attachServices(ctx, eng, to, links); err != nil {
		m.log.Warn("linked services not attached to the renamed app's network", "app", to, "err", err)
	}
}

// removeAppNetwork detaches whatever is left on an app's network and
// removes it.
func (m *Manager) removeAppNetwork(ctx context.Context, eng Engine, appName string) {
	net := m.names.AppNetwork(appName)
	info, err := eng.InspectNetwork(ctx, net)
	if errors.Is(err, docker.ErrNotFound) {
		return
	}
	if err == nil {
		for _, id := range info.Containers {
			if err := eng.DisconnectNetwork(ctx, net, id); err != nil {
				m.log.Warn("container not detached from the app's network", "app", appName, "container", id, "err", err)
			}
		}
		err = eng.RemoveNetwork(ctx, net)
	}
	if err != nil {
		m.log.Warn("app's network not removed", "app", appName, "network", net, "err", err)
	}
}

// OnAppCloned links the clone to the services the app is linked to, under
// the same variables (whose values apps:clone copied): so the clone's URLs
// resolve. It runs in the clone's transaction and returns the links made.
func (m *Manager) OnAppCloned(tx *store.Tx, from, to store.App) ([]store.Link, error) {
	links, err := tx.AppLinks(from)
	if err != nil {
		return nil, err
	}
	made := make([]store.Link, 0, len(links))
	for _, l := range links {
		l.App = to.Name
		if err := tx.AddLink(l, to); err != nil {
			return nil, err
		}
		made = append(made, l)
	}
	return made, nil
}

// AttachOverlay attaches the containers of the services linked to an app
// to network, the overlay network of the app's Swarm services, under
// their DNS names: the app's tasks on every node reach them by the names
// of DATABASE_URL and REDIS_URL, as its containers do on one host. The
// services stay on this server (the manager), their data on its disk.
func (m *Manager) AttachOverlay(ctx context.Context, appName, network string) error {
	links, err := m.appLinks(ctx, appName)
	if err != nil || len(links) == 0 {
		return err
	}
	eng, err := m.engine(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		errs = append(errs, m.attachService(ctx, eng, l.Service, network))
	}
	return errors.Join(errs...)
}
