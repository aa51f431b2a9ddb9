package docker

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
)

func TestSwarmContainerMapsTheAppsOptions(t *testing.T) {
	c := ContainerSpec{
		Binds:   []string{"/var/lib/berth/storage/shop:/data", "/etc/ssl:/ssl:ro"},
		Memory:  256 << 20,
		ShmSize: 64 << 20,
		Host: HostOptions{
			NanoCPUs: 500000000, PidsLimit: 100, MemoryReservation: 128 << 20,
			ExtraHosts: []string{"db.local:10.0.0.5"}, DNS: []string{"1.1.1.1"}, DNSSearch: []string{"example.com"},
			CapAdd: []string{"NET_ADMIN"}, User: "1000", ReadonlyRootfs: true, StopSignal: "SIGINT",
			Ulimits: []Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}}, Entrypoint: []string{"/init"},
		},
	}
	cs := &swarm.ContainerSpec{}
	r := swarmContainer(cs, c)
	if len(cs.Mounts) != 3 || cs.Mounts[0].Type != mount.TypeBind || cs.Mounts[0].Source != "/var/lib/berth/storage/shop" || cs.Mounts[0].Target != "/data" || cs.Mounts[0].ReadOnly || !cs.Mounts[1].ReadOnly {
		t.Errorf("mounts %+v", cs.Mounts)
	}
	if m := cs.Mounts[2]; m.Type != mount.TypeTmpfs || m.Target != "/dev/shm" || m.TmpfsOptions.SizeBytes != 64<<20 {
		t.Errorf("shm %+v", m)
	}
	if r == nil || r.Limits.MemoryBytes != 256<<20 || r.Limits.NanoCPUs != 500000000 || r.Limits.Pids != 100 || r.Reservations.MemoryBytes != 128<<20 {
		t.Errorf("resources %+v", r)
	}
	if !slices.Equal(cs.Hosts, []string{"10.0.0.5 db.local"}) || cs.DNSConfig == nil || cs.DNSConfig.Nameservers[0].String() != "1.1.1.1" {
		t.Errorf("hosts %v dns %+v", cs.Hosts, cs.DNSConfig)
	}
	if cs.User != "1000" || !cs.ReadOnly || cs.StopSignal != "SIGINT" || len(cs.Ulimits) != 1 || !slices.Equal(cs.Command, []string{"/init"}) || !slices.Equal(cs.CapabilityAdd, []string{"NET_ADMIN"}) {
		t.Errorf("container spec %+v", cs)
	}
	if r := swarmContainer(&swarm.ContainerSpec{}, ContainerSpec{}); r != nil {
		t.Errorf("no options gave resources %+v", r)
	}
}

func TestSwarmIgnoredNamesWhatATaskCannotHave(t *testing.T) {
	if got := SwarmIgnored(ContainerSpec{Memory: 1, Binds: []string{"/a:/b"}}); len(got) != 0 {
		t.Errorf("mapped options reported as ignored: %v", got)
	}
	got := SwarmIgnored(ContainerSpec{Host: HostOptions{Privileged: true, Devices: []Device{{PathOnHost: "/dev/fuse"}}, LogDriver: "syslog"}})
	if want := []string{"--privileged", "--device", "--log-driver/--log-opt"}; !slices.Equal(got, want) {
		t.Errorf("SwarmIgnored = %v, want %v", got, want)
	}
}
