package docker

import (
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
)

// What an app's settings add to its containers (docker-options of the
// deploy phase, storage mounts, resource limits: a ContainerSpec's
// Binds, Memory, ShmSize and Host) as a Swarm task gets it. Swarm's
// container spec has no place for some of them; SwarmIgnored names those
// set, so a deploy can say so instead of dropping them silently.

// swarmContainer adds the options of c to a service's container spec
// and returns its resource requirements (nil: none).
func swarmContainer(cs *swarm.ContainerSpec, c ContainerSpec) *swarm.ResourceRequirements {
	o := c.Host
	for _, b := range c.Binds {
		src, dst, _ := strings.Cut(b, ":")
		dst, opts, _ := strings.Cut(dst, ":")
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: dst, ReadOnly: strings.Contains(opts, "ro")})
	}
	for _, v := range o.Volumes {
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.TypeVolume, Target: v})
	}
	for path := range o.Tmpfs {
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.TypeTmpfs, Target: path})
	}
	if c.ShmSize > 0 {
		cs.Mounts = append(cs.Mounts, mount.Mount{Type: mount.TypeTmpfs, Target: "/dev/shm", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: c.ShmSize}})
	}
	for _, h := range o.ExtraHosts { // "name:ip" as docker run takes it; Swarm wants "ip name"
		if name, ip, ok := strings.Cut(h, ":"); ok {
			cs.Hosts = append(cs.Hosts, ip+" "+name)
		}
	}
	if len(o.DNS) > 0 || len(o.DNSSearch) > 0 || len(o.DNSOptions) > 0 {
		cs.DNSConfig = &swarm.DNSConfig{Search: o.DNSSearch, Options: o.DNSOptions}
		for _, d := range o.DNS {
			if a, err := netip.ParseAddr(d); err == nil {
				cs.DNSConfig.Nameservers = append(cs.DNSConfig.Nameservers, a)
			}
		}
	}
	cs.CapabilityAdd, cs.CapabilityDrop = o.CapAdd, o.CapDrop
	cs.ReadOnly = o.ReadonlyRootfs
	cs.User, cs.Groups = o.User, o.GroupAdd
	cs.Sysctls = o.Sysctls
	cs.StopSignal = o.StopSignal
	cs.OomScoreAdj = int64(o.OomScoreAdj)
	for _, u := range o.Ulimits {
		cs.Ulimits = append(cs.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	if o.Entrypoint != nil {
		cs.Command = o.Entrypoint
	}
	if c.Memory == 0 && o.NanoCPUs == 0 && o.PidsLimit == 0 && o.MemoryReservation == 0 {
		return nil
	}
	r := &swarm.ResourceRequirements{}
	if c.Memory != 0 || o.NanoCPUs != 0 || o.PidsLimit != 0 {
		r.Limits = &swarm.Limit{MemoryBytes: c.Memory, NanoCPUs: o.NanoCPUs, Pids: o.PidsLimit}
	}
	if o.MemoryReservation != 0 {
		r.Reservations = &swarm.Resources{MemoryBytes: o.MemoryReservation}
	}
	if o.MemorySwap != 0 && c.Memory != 0 {
		swap := o.MemorySwap
		r.SwapBytes = &swap
	}
	return r
}

// SwarmIgnored names the options set in c that a Swarm task cannot have
// (docker run flags without a place in Swarm's container spec).
func SwarmIgnored(c ContainerSpec) []string {
	o := c.Host
	var out []string
	add := func(set bool, flag string) {
		if set {
			out = append(out, flag)
		}
	}
	add(o.Privileged, "--privileged")
	add(len(o.Devices) > 0, "--device")
	add(len(o.Links) > 0, "--link")
	add(len(o.SecurityOpt) > 0, "--security-opt")
	add(o.LogDriver != "" || len(o.LogOpts) > 0, "--log-driver/--log-opt")
	add(o.IpcMode != "", "--ipc")
	add(o.PidMode != "", "--pid")
	add(o.OomKillDisable, "--oom-kill-disable")
	add(o.CPUShares != 0, "--cpu-shares")
	add(len(c.Ports) > 0, "-p")
	return out
}
