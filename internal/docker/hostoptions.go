package docker

import (
	"fmt"
	"net/netip"

	"github.com/moby/moby/api/types/container"
)

// HostOptions are the container options an app's settings add to the
// containers Berth creates (docker-options of the deploy and run phases,
// storage mounts, resource limits). The zero value adds nothing.
type HostOptions struct {
	// Volumes are anonymous volumes, by container path (`-v /tmp`).
	Volumes []string
	// MemoryReservation is the soft memory limit in bytes; MemorySwap is
	// memory plus swap (-1: unlimited swap).
	MemoryReservation, MemorySwap int64
	// NanoCPUs is the CPU quota in billionths of a CPU (`--cpus 0.5` is
	// 500000000); CPUShares is the relative CPU weight.
	NanoCPUs, CPUShares int64
	// PidsLimit limits the number of processes; 0 is the engine default.
	PidsLimit int64
	Ulimits   []Ulimit
	// ExtraHosts are "host:ip" lines added to /etc/hosts.
	ExtraHosts []string
	// DNS servers, DNS search domains and resolver options.
	DNS                   []string
	DNSSearch, DNSOptions []string
	// Links are legacy links ("container:alias").
	Links            []string
	CapAdd, CapDrop  []string
	Privileged       bool
	ReadonlyRootfs   bool
	Tmpfs            map[string]string // container path → mount options
	SecurityOpt      []string
	User             string
	Devices          []Device
	LogDriver        string
	LogOpts          map[string]string
	Sysctls          map[string]string
	GroupAdd         []string
	OomKillDisable   bool
	OomScoreAdj      int
	StopSignal       string
	Entrypoint       []string // replaces the spec's when set
	IpcMode, PidMode string
}

// Ulimit is one resource limit of the container's processes.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// Device maps a host device into the container.
type Device struct {
	PathOnHost, PathInContainer, Permissions string
}

// applyHostOptions adds o to a container's configuration.
func applyHostOptions(cfg *container.Config, host *container.HostConfig, o HostOptions) error {
	if len(o.Volumes) > 0 {
		cfg.Volumes = map[string]struct{}{}
		for _, v := range o.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	}
	host.MemoryReservation = o.MemoryReservation
	host.MemorySwap = o.MemorySwap
	host.NanoCPUs = o.NanoCPUs
	host.CPUShares = o.CPUShares
	if o.PidsLimit != 0 {
		n := o.PidsLimit
		host.PidsLimit = &n
	}
	for _, u := range o.Ulimits {
		host.Ulimits = append(host.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	host.ExtraHosts = o.ExtraHosts
	for _, d := range o.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return fmt.Errorf("invalid DNS server %q", d)
		}
		host.DNS = append(host.DNS, a)
	}
	host.DNSSearch, host.DNSOptions = o.DNSSearch, o.DNSOptions
	host.Links = o.Links
	host.CapAdd, host.CapDrop = o.CapAdd, o.CapDrop
	host.Privileged = o.Privileged
	host.ReadonlyRootfs = o.ReadonlyRootfs
	host.Tmpfs = o.Tmpfs
	host.SecurityOpt = o.SecurityOpt
	cfg.User = o.User
	for _, d := range o.Devices {
		host.Devices = append(host.Devices, container.DeviceMapping{PathOnHost: d.PathOnHost, PathInContainer: d.PathInContainer, CgroupPermissions: d.Permissions})
	}
	if o.LogDriver != "" || len(o.LogOpts) > 0 {
		host.LogConfig = container.LogConfig{Type: o.LogDriver, Config: o.LogOpts}
	}
	host.Sysctls = o.Sysctls
	host.GroupAdd = o.GroupAdd
	if o.OomKillDisable {
		t := true
		host.OomKillDisable = &t
	}
	host.OomScoreAdj = o.OomScoreAdj
	cfg.StopSignal = o.StopSignal
	if o.Entrypoint != nil {
		cfg.Entrypoint = o.Entrypoint
	}
	host.IpcMode = container.IpcMode(o.IpcMode)
	host.PidMode = container.PidMode(o.PidMode)
	return nil
}
