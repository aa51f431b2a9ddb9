package containeropts

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	units "github.com/docker/go-units"
)

// runFlag is one docker run option Berth applies in the deploy and run
// phases: whether it takes a value, and what it does to the container.
type runFlag struct {
	value bool
	apply func(s *docker.ContainerSpec, v string) error
}

// shortFlags are docker run's one-letter names.
var shortFlags = map[string]string{
	"-v": "--volume", "-l": "--label", "-p": "--publish", "-m": "--memory", "-e": "--env",
	"-u": "--user", "-h": "--hostname", "-w": "--workdir", "-c": "--cpu-shares",
}

var (
	volumeNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`) })
	restartRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(no|always|unless-stopped|on-failure(:[0-9]+)?)$`) })
)

// runFlags are the docker run options Berth applies. Others are refused
// when added (--network: Berth manages networks; --rm, -d, -i, -t: Berth
// decides how its containers run).
var runFlags = map[string]runFlag{
	"--volume": {true, func(s *docker.ContainerSpec, v string) error {
		host, rest, ok := strings.Cut(v, ":")
		if !ok {
			if !path.IsAbs(v) {
				return fmt.Errorf("-v %s: an anonymous volume is an absolute container path", v)
			}
			s.Host.Volumes = append(s.Host.Volumes, v)
			return nil
		}
		ctr, _, _ := strings.Cut(rest, ":")
		if !path.IsAbs(ctr) || (!path.IsAbs(host) && !volumeNameRE().MatchString(host)) {
			return fmt.Errorf("-v %s: use HOST-DIR:CONTAINER-DIR[:OPTIONS] (absolute paths) or VOLUME:CONTAINER-DIR", v)
		}
		s.Binds = append(s.Binds, v)
		return nil
	}},
	"--label": {true, func(s *docker.ContainerSpec, v string) error {
		k, val, _ := strings.Cut(v, "=")
		if k == "" {
			return fmt.Errorf("--label %s: use KEY=VALUE", v)
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[k] = val
		return nil
	}},
	"--publish": {true, func(s *docker.ContainerSpec, v string) error {
		pb, err := parsePublish(v)
		if err != nil {
			return err
		}
		s.Ports = append(s.Ports, pb)
		return nil
	}},
	"--memory": {true, func(s *docker.ContainerSpec, v string) error { return bytesInto(&s.Memory, "--memory", v) }},
	"--memory-reservation": {true, func(s *docker.ContainerSpec, v string) error {
		return bytesInto(&s.Host.MemoryReservation, "--memory-reservation", v)
	}},
	"--memory-swap": {true, func(s *docker.ContainerSpec, v string) error {
		if v == "-1" {
			s.Host.MemorySwap = -1
			return nil
		}
		return bytesInto(&s.Host.MemorySwap, "--memory-swap", v)
	}},
	"--shm-size": {true, func(s *docker.ContainerSpec, v string) error { return bytesInto(&s.ShmSize, "--shm-size", v) }},
	"--cpus": {true, func(s *docker.ContainerSpec, v string) error {
		n, err := parseCPUs(v)
		s.Host.NanoCPUs = n
		return err
	}},
	"--cpu-shares": {true, func(s *docker.ContainerSpec, v string) error { return intInto(&s.Host.CPUShares, "--cpu-shares", v) }},
	"--pids-limit": {true, func(s *docker.ContainerSpec, v string) error { return intInto(&s.Host.PidsLimit, "--pids-limit", v) }},
	"--ulimit": {true, func(s *docker.ContainerSpec, v string) error {
		u, err := units.ParseUlimit(v)
		if err != nil {
			return fmt.Errorf("--ulimit %s: %v", v, err)
		}
		s.Host.Ulimits = append(s.Host.Ulimits, docker.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		return nil
	}},
	"--add-host": {true, func(s *docker.ContainerSpec, v string) error {
		if !strings.Contains(v, ":") && !strings.Contains(v, "=") {
			return fmt.Errorf("--add-host %s: use HOST:IP", v)
		}
		s.Host.ExtraHosts = append(s.Host.ExtraHosts, strings.Replace(v, "=", ":", 1))
		return nil
	}},
	"--dns": {true, func(s *docker.ContainerSpec, v string) error {
		if _, err := netip.ParseAddr(v); err != nil {
			return fmt.Errorf("--dns %s: not an IP address", v)
		}
		s.Host.DNS = append(s.Host.DNS, v)
		return nil
	}},
	"--dns-search":       {true, appendTo(func(s *docker.ContainerSpec) *[]string { return &s.Host.DNSSearch })},
	"--dns-option":       {true, appendTo(func(s *docker.ContainerSpec) *[]string { return &s.Host.DNSOptions })},
	"--link":             {true, appendTo(func(s *docker.ContainerSpec) *[]string { return &s.Host.Links })},
	"--cap-add":          {true, appendTo(func(s *docker.ContainerSpec) *[]string { return &s.Host.CapAdd })},
	"--cap-drop":         {true, appendTo(func(s *docker.ContainerSpec) *[]string { return &s.Host.CapDrop })},
	"--security-opt":     {true, appendTo(func(s *docker.ContainerSpec) *[]string { return &s.Host.SecurityOpt })},
	"--group-add":        {true, appendTo(func(s *docker.ContainerSpec) *[]string { return &s.Host.GroupAdd })},
	"--privileged":       {false, func(s *docker.ContainerSpec, _ string) error { s.Host.Privileged = true; return nil }},
	"--read-only":        {false, func(s *docker.ContainerSpec, _ string) error { s.Host.ReadonlyRootfs = true; return nil }},
	"--init":             {false, func(s *docker.ContainerSpec, _ string) error { s.Init = true; return nil }},
	"--oom-kill-disable": {false, func(s *docker.ContainerSpec, _ string) error { s.Host.OomKillDisable = true; return nil }},
	"--oom-score-adj": {true, func(s *docker.ContainerSpec, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1000 || n > 1000 {
			return fmt.Errorf("--oom-score-adj %s: a number from -1000 to 1000", v)
		}
		s.Host.OomScoreAdj = n
		return nil
	}},
	"--tmpfs": {true, func(s *docker.ContainerSpec, v string) error {
		p, opts, _ := strings.Cut(v, ":")
		if !path.IsAbs(p) {
			return fmt.Errorf("--tmpfs %s: an absolute container path", v)
		}
		if s.Host.Tmpfs == nil {
			s.Host.Tmpfs = map[string]string{}
		}
		s.Host.Tmpfs[p] = opts
		return nil
	}},
	"--user":     {true, func(s *docker.ContainerSpec, v string) error { s.Host.User = v; return nil }},
	"--hostname": {true, func(s *docker.ContainerSpec, v string) error { s.Hostname = v; return nil }},
	"--workdir": {true, func(s *docker.ContainerSpec, v string) error {
		if !path.IsAbs(v) {
			return fmt.Errorf("--workdir %s: an absolute path", v)
		}
		s.WorkingDir = v
		return nil
	}},
	"--env": {true, func(s *docker.ContainerSpec, v string) error {
		k, _, ok := strings.Cut(v, "=")
		if !ok || app.ValidateKey(k) != nil {
			return fmt.Errorf("--env %s: use KEY=VALUE", v)
		}
		s.Env = append(s.Env, v)
		return nil
	}},
	"--device": {true, func(s *docker.ContainerSpec, v string) error {
		parts := strings.SplitN(v, ":", 3)
		d := docker.Device{PathOnHost: parts[0], PathInContainer: parts[0], Permissions: "rwm"}
		if len(parts) > 1 {
			d.PathInContainer = parts[1]
		}
		if len(parts) > 2 {
			d.Permissions = parts[2]
		}
		if !path.IsAbs(d.PathOnHost) || !path.IsAbs(d.PathInContainer) {
			return fmt.Errorf("--device %s: use HOST-PATH[:CONTAINER-PATH[:PERMISSIONS]]", v)
		}
		s.Host.Devices = append(s.Host.Devices, d)
		return nil
	}},
	"--log-driver": {true, func(s *docker.ContainerSpec, v string) error { s.Host.LogDriver = v; return nil }},
	"--log-opt": {true, func(s *docker.ContainerSpec, v string) error {
		return keyValueInto(&s.Host.LogOpts, "--log-opt", v)
	}},
	"--sysctl": {true, func(s *docker.ContainerSpec, v string) error {
		return keyValueInto(&s.Host.Sysctls, "--sysctl", v)
	}},
	"--stop-signal": {true, func(s *docker.ContainerSpec, v string) error { s.Host.StopSignal = v; return nil }},
	"--stop-timeout": {true, func(s *docker.ContainerSpec, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("--stop-timeout %s: a number of seconds", v)
		}
		s.StopTimeout = n
		return nil
	}},
	"--restart": {true, func(s *docker.ContainerSpec, v string) error {
		if !restartRE().MatchString(v) {
			return fmt.Errorf("--restart %s: use no, always, unless-stopped, on-failure or on-failure:N", v)
		}
		s.RestartPolicy = v
		return nil
	}},
	"--entrypoint": {true, func(s *docker.ContainerSpec, v string) error {
		if v == "" {
			s.Host.Entrypoint = []string{}
		} else {
			s.Host.Entrypoint = []string{v}
		}
		return nil
	}},
	"--ipc": {true, func(s *docker.ContainerSpec, v string) error { s.Host.IpcMode = v; return nil }},
	"--pid": {true, func(s *docker.ContainerSpec, v string) error { s.Host.PidMode = v; return nil }},
}

func appendTo(field func(s *docker.ContainerSpec) *[]string) func(s *docker.ContainerSpec, v string) error {
	return func(s *docker.ContainerSpec, v string) error {
		f := field(s)
		*f = append(*f, v)
		return nil
	}
}

func keyValueInto(m *map[string]string, flag, v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%s %s: use KEY=VALUE", flag, v)
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = val
	return nil
}

func bytesInto(dst *int64, flag, v string) error {
	n, err := units.RAMInBytes(v)
	if err != nil || n < 0 {
		return fmt.Errorf("%s %s: a size such as 512m or 1g", flag, v)
	}
	*dst = n
	return nil
}

func intInto(dst *int64, flag, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %s: a whole number", flag, v)
	}
	*dst = n
	return nil
}

// parseCPUs reads a number of CPUs ("0.5", "2") as billionths of a CPU.
func parseCPUs(v string) (int64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f > 1024 {
		return 0, fmt.Errorf("invalid cpu value %q: a number of CPUs such as 0.5 or 2", v)
	}
	return int64(f * 1e9), nil
}

// parsePublish reads -p [IP:]HOST-PORT:CONTAINER-PORT[/PROTO]. Without an
// address the port is published on every interface, as docker does.
func parsePublish(v string) (docker.PortBinding, error) {
	bad := fmt.Errorf("-p %s: use [IP:]HOST-PORT:CONTAINER-PORT[/tcp|/udp]", v)
	spec, proto, _ := strings.Cut(v, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return docker.PortBinding{}, bad
	}
	parts := strings.Split(spec, ":")
	ip := "0.0.0.0"
	switch len(parts) {
	case 2:
	case 3:
		ip = parts[0]
		parts = parts[1:]
	default:
		return docker.PortBinding{}, bad
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return docker.PortBinding{}, bad
	}
	hp, err1 := strconv.Atoi(parts[0])
	cp, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || hp < 1 || hp > 65535 || cp < 1 || cp > 65535 {
		return docker.PortBinding{}, bad
	}
	return docker.PortBinding{HostIP: ip, HostPort: hp, ContainerPort: cp, Proto: proto}, nil
}

// applyRunOption applies one stored option of the deploy or run phase.
func applyRunOption(s *docker.ContainerSpec, phase, option string) error {
	flag, value, has := app.OptionFlag(app.OptionWords(option))
	if long, ok := shortFlags[flag]; ok {
		flag = long
	} else if len(flag) > 2 && flag[0] == '-' && flag[1] != '-' {
		// -v/tmp: a short flag with its value attached.
		if long, ok := shortFlags[flag[:2]]; ok && !has {
			flag, value, has = long, flag[2:], true
		}
	}
	f, ok := runFlags[flag]
	if !ok {
		return app.Invalidf("Berth does not apply the docker option %s in the %s phase; it applies %s", flag, phase, strings.Join(supportedRunFlags(), " "))
	}
	if f.value && (!has || value == "") {
		return app.Invalidf("The docker option %s needs a value", flag)
	}
	if !f.value && has {
		return app.Invalidf("The docker option %s takes no value", flag)
	}
	if err := f.apply(s, value); err != nil {
		return app.Invalidf("Invalid docker option %s", err)
	}
	return nil
}

func supportedRunFlags() []string {
	var out []string
	for k := range runFlags {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// CheckOption checks an option before it is stored: every option is
// accepted in the build phase (the build applies --build-arg and
// --no-cache and says it skips the others, as Dokku's Dockerfile builder
// does), the deploy and run phases take the options Berth applies.
func CheckOption(phase, option string) error {
	if phase == "build" {
		return nil
	}
	return applyRunOption(&docker.ContainerSpec{}, phase, option)
}
