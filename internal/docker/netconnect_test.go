package docker

import (
	"errors"
	"slices"
	"testing"
)

// TestConnectNetwork: a container (created, then running) is attached to a
// second network under an alias, twice without error; inspect and list
// see it; detaching twice is fine; a missing network or container is
// ErrNotFound on connect and nothing on disconnect.
func TestConnectNetwork(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	own, other := f.name("own"), f.name("other")
	for _, n := range []string{own, other} {
		t.Cleanup(func() {
			ctx, cancel := cleanupCtx()
			defer cancel()
			if err := f.c.RemoveNetwork(ctx, n); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		if err := f.c.EnsureNetwork(f.ctx, n, f.labels("berth.test.net", n), SubnetPool{}); err != nil {
			t.Fatal(err)
		}
	}
	alias := "svc-" + f.id
	server := f.create(ContainerSpec{Cmd: []string{"sleep", "30"}, Network: own})
	for range 2 { // created
		if err := f.c.ConnectNetwork(f.ctx, other, server, []string{alias}); err != nil {
			t.Fatalf("ConnectNetwork (created): %v", err)
		}
	}
	f.start(server)
	if err := f.c.ConnectNetwork(f.ctx, other, server, []string{alias}); err != nil {
		t.Fatalf("ConnectNetwork (running, already attached): %v", err)
	}
	det, err := f.c.InspectContainer(f.ctx, server)
	if err != nil || det.IPAddress(own) == "" || det.IPAddress(other) == "" {
		t.Fatalf("networks after connect: %v, %v", det.Networks, err)
	}
	info, err := f.c.InspectNetwork(f.ctx, other)
	if err != nil || info.Name != other || !slices.Contains(info.Containers, server) {
		t.Fatalf("InspectNetwork = %+v, %v", info, err)
	}
	list, err := f.c.ListNetworks(f.ctx, f.labels("berth.test.net", other))
	if err != nil || len(list) != 1 || list[0].Name != other {
		t.Fatalf("ListNetworks = %+v, %v", list, err)
	}
	// The alias answers on the second network.
	probe := f.create(ContainerSpec{Cmd: []string{"ping", "-c", "1", "-W", "3", alias}, Network: other})
	f.start(probe)
	if code, err := f.c.Wait(f.ctx, probe); err != nil || code != 0 {
		t.Errorf("pinging %s on the second network: exit %d, %v", alias, code, err)
	}
	for range 2 {
		if err := f.c.DisconnectNetwork(f.ctx, other, server); err != nil {
			t.Fatalf("DisconnectNetwork: %v", err)
		}
	}
	if det, _ := f.c.InspectContainer(f.ctx, server); det.IPAddress(other) != "" {
		t.Errorf("still attached after disconnect: %v", det.Networks)
	}
	if err := f.c.ConnectNetwork(f.ctx, f.name("nonet"), server, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("connect to a missing network: %v", err)
	}
	if err := f.c.ConnectNetwork(f.ctx, other, f.name("nobody"), nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("connect of a missing container: %v", err)
	}
	if err := f.c.DisconnectNetwork(f.ctx, f.name("nonet"), server); err != nil {
		t.Errorf("disconnect from a missing network: %v", err)
	}
	if _, err := f.c.InspectNetwork(f.ctx, f.name("nonet")); !errors.Is(err, ErrNotFound) {
		t.Errorf("inspect of a missing network: %v", err)
	}
	if err := f.c.RemoveContainer(f.ctx, probe, true); err != nil {
		t.Fatal(err)
	}
}
