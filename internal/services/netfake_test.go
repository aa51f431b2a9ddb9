package services

import (
	"context"
	"fmt"
	"maps"

	"github.com/berthpaas/berth/internal/docker"
)

// The fake engine's networks: which exist, and who is attached (each
// container's Networks).

func (f *fakeEngine) EnsureNetwork(_ context.Context, name string, _ map[string]string, _ docker.SubnetPool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.networks[name] {
		f.record("network %s", name)
	}
	f.networks[name] = true
	return nil
}

func (f *fakeEngine) RemoveNetwork(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if _, ok := c.Networks[name]; ok {
			return fmt.Errorf("fake: network %s has active endpoints", name)
		}
	}
	f.record("remove-network %s", name)
	delete(f.networks, name)
	return nil
}

func (f *fakeEngine) InspectNetwork(_ context.Context, name string) (docker.NetworkInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.networks[name] {
		return docker.NetworkInfo{}, notFound("network " + name)
	}
	info := docker.NetworkInfo{ID: name, Name: name}
	for id, c := range f.containers {
		if _, ok := c.Networks[name]; ok {
			info.Containers = append(info.Containers, id)
		}
	}
	return info, nil
}

func (f *fakeEngine) ConnectNetwork(_ context.Context, network, container string, aliases []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.networks[network] {
		return notFound("network " + network)
	}
	c := f.find(container)
	if c == nil {
		return notFound(container)
	}
	if _, ok := c.Networks[network]; !ok {
		f.record("connect %s %s %v", network, c.Name, aliases)
		c.Networks[network] = "10.1.0.2"
	}
	return nil
}

func (f *fakeEngine) DisconnectNetwork(_ context.Context, network, container string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(container)
	if c == nil {
		return nil
	}
	if _, ok := c.Networks[network]; ok {
		f.record("disconnect %s %s", network, c.Name)
		delete(c.Networks, network)
	}
	return nil
}

func (f *fakeEngine) ListContainers(_ context.Context, labels map[string]string, _ bool) ([]docker.ContainerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []docker.ContainerInfo
	for _, c := range f.containers {
		match := true
		for k, v := range labels {
			if c.Labels[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, c.ContainerInfo)
		}
	}
	return out, nil
}

// addAppContainer puts a container of app on the fake engine, attached to
// nets.
func (f *fakeEngine) addAppContainer(app, name string, nets ...string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := fmt.Sprintf("c%d", f.n)
	c := &docker.ContainerDetails{ContainerInfo: docker.ContainerInfo{ID: id, Name: name, State: "running", Labels: map[string]string{"berth.instance": "test", "berth.app": app}},
		Running: true, Networks: map[string]string{}}
	for _, n := range nets {
		f.networks[n] = true
		c.Networks[n] = "10.2.0.2"
	}
	f.containers[id] = c
	return id
}

// networksOf is the networks a container is attached to.
func (f *fakeEngine) networksOf(idOrName string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.find(idOrName); c != nil {
		return maps.Clone(c.Networks)
	}
	return nil
}
