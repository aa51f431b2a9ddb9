// Package naming is what Berth calls the Docker objects it creates and how
// it marks them: container and image names (Dokku's APP.TYPE.N, the
// temporary and retired names of a zero-downtime switch), the berth.*
// labels, and reading a container list by those labels: which containers
// are the live ones, and the renames that give containers their names at a
// switch or after an interrupted one. It does no I/O.
package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Labels Berth puts on the Docker objects it creates.
const (
	LabelInstance = "berth.instance" // which Berth instance owns it
	LabelApp      = "berth.app"
	LabelRelease  = "berth.release"
	LabelProcess  = "berth.process" // process type: web, worker, run
	LabelIndex    = "berth.index"   // N of TYPE.N
	LabelKind     = "berth.kind"    // process, run
	// LabelGeneration tells apart the containers of successive deploys of
	// one release (a config change, a restart): the proxy routes only to
	// the current generation.
	LabelGeneration = "berth.generation"
	// LabelServiceKind and LabelServiceName mark a service's objects.
	LabelServiceKind = "berth.service.kind"
	LabelServiceName = "berth.service.name"
	// LabelDeadline is how many seconds a one-off container may run
	// before run:retire stops it; Dokku's name, so tools that read it
	// (and Dokku's tests) find it.
	LabelDeadline = "com.dokku.active-deadline-seconds"
)

// Container kinds.
const (
	KindProcess = "process"
	KindRun     = "run"
	KindService = "service"
	KindNetwork = "network" // an app's network
	// KindSwarmTask is the container of a Swarm task on its node (the
	// manager's included): the scheduler's, never managed as a container.
	KindSwarmTask = "swarm-task"
)

// Names derives the names and labels of one Berth instance's Docker
// objects. With an empty prefix, containers are named APP.TYPE.N as in Dokku.
type Names struct{ Prefix string }

func (n Names) name(s string) string {
	if n.Prefix == "" {
		return s
	}
	return n.Prefix + "-" + s
}

// Instance is the value of LabelInstance.
func (n Names) Instance() string {
	if n.Prefix == "" {
		return "default"
	}
	return n.Prefix
}

// Container is the name of process container TYPE.N of app.
func (n Names) Container(app, typ string, i int) string {
	return n.name(fmt.Sprintf("%s.%s.%d", app, typ, i))
}

// Upcoming is the temporary name of a container started by a deploy, until
// the switch gives it its final name: unique per deploy (release and
// generation), so no deploy ever takes the name of a live container, and a
// failed deploy leaves the old containers' names alone.
func (n Names) Upcoming(app, typ string, i, release int, generation string) string {
	if len(generation) > 8 {
		generation = generation[:8]
	}
	return n.Container(app, typ, i) + ".upcoming-" + strconv.Itoa(release) + "-" + generation
}

// Retired is the name an old container TYPE.N takes at the switch that
// replaces it, until it is stopped: APP.TYPE.N.<epoch> (the Unix time), as
// Dokku's scheduler-docker-local names it.
func (n Names) Retired(app, typ string, i int, epoch int64) string {
	return n.Container(app, typ, i) + "." + strconv.FormatInt(epoch, 10)
}

// IsRetired reports whether name is a Retired name of container TYPE.N.
func (n Names) IsRetired(name, app, typ string, i int) bool {
	rest, ok := strings.CutPrefix(name, n.Container(app, typ, i)+".")
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// RunContainer is the name of one-off container number id.
func (n Names) RunContainer(app string, id string) string {
	return n.name(app + ".run." + id)
}

// ImageRepo is the repository of an app's release images: berth/APP, as
// Dokku's dokku/APP. Every app name is a valid Docker path component except
// one where a dot touches a hyphen ("a.-b"); such a name is written with its
// dots turned into hyphens, followed by a component listing where the dots
// were ("berth/a--b/1"). Two apps never share a repository, so a deploy of
// one never retags the images of another.
func (n Names) ImageRepo(app string) string {
	repo := n.name("berth") + "/"
	if !strings.Contains(app, ".-") && !strings.Contains(app, "-.") {
		return repo + app
	}
	var dots []string
	for i := 0; i < len(app); i++ {
		if app[i] == '.' {
			dots = append(dots, strconv.Itoa(i))
		}
	}
	return repo + strings.ReplaceAll(app, ".", "-") + "/" + strings.Join(dots, "-")
}

// Image is the tag of release number of app.
func (n Names) Image(app string, release int) string {
	return n.ImageRepo(app) + ":" + strconv.Itoa(release)
}

// AppLabels selects every object of an app in this instance.
func (n Names) AppLabels(app string) map[string]string {
	return map[string]string{LabelInstance: n.Instance(), LabelApp: app}
}

// KindLabels selects an app's objects of one kind.
func (n Names) KindLabels(app, kind string) map[string]string {
	l := n.AppLabels(app)
	l[LabelKind] = kind
	return l
}

// Networks. Each service lives on its own network, and each app with links
// on its own; a service is attached, under its DNS name, to the network of
// every app linked to it. So an app's containers reach the services linked
// to it and no others.

// SharedNetwork is the one network services and linked apps shared before
// each got its own; it is kept only to move existing installs off it.
func (n Names) SharedNetwork() string { return n.name("berth") }

const appNetworkInfix = "berth.app."

// AppNetwork is the network of an app's containers.
func (n Names) AppNetwork(app string) string { return n.name(appNetworkInfix + app) }

// AppOfNetwork is the app whose network name is, if it is one.
func (n Names) AppOfNetwork(name string) (string, bool) {
	app, ok := strings.CutPrefix(name, n.name(appNetworkInfix))
	return app, ok && app != ""
}

// AppNetworkLabels are the labels of an app's network.
func (n Names) AppNetworkLabels(app string) map[string]string {
	return n.KindLabels(app, KindNetwork)
}

// ServiceNetwork is the network a service's container is created on.
func (n Names) ServiceNetwork(kind, name string) string {
	return n.name("berth.svc." + kind + "." + name)
}

// ServiceLabels are the labels of a service's container and network.
func (n Names) ServiceLabels(kind, name string) map[string]string {
	return map[string]string{LabelInstance: n.Instance(), LabelKind: KindService, LabelServiceKind: kind, LabelServiceName: name}
}

// Service is the container name of a service.
func (n Names) Service(kind, name string) string { return n.name("berth." + kind + "." + name) }

// User networks (network:create) are named as the user gave them, behind
// the instance's prefix, and labelled with that name.

// KindUserNetwork marks a network made by network:create.
const KindUserNetwork = "user-network"

// LabelNetwork is a user network's name as the user gave it.
const LabelNetwork = "berth.network"

// UserNetwork is the Docker name of user network name.
func (n Names) UserNetwork(name string) string { return n.name(name) }

// UserNetworkLabels are the labels of user network name.
func (n Names) UserNetworkLabels(name string) map[string]string {
	return map[string]string{LabelInstance: n.Instance(), LabelKind: KindUserNetwork, LabelNetwork: name}
}

// SwarmNetwork is the overlay network of an app's Swarm services (and of
// its one-off containers on the manager): attachable, on every node.
// Swarm wants a DNS name component: berth-swarm-APP, dots as hyphens;
// a name so changed ends in a short hash of the app's own, so that apps
// a.b and a-b never share one.
func (n Names) SwarmNetwork(app string) string {
	full := n.name("berth-swarm-" + app)
	name := swarmName(full)
	if name != full {
		sum := sha256.Sum256([]byte(app))
		name += "-" + hex.EncodeToString(sum[:3])
	}
	return name
}

// swarmName turns the characters Swarm refuses in the names of services
// and overlay networks (dots, underscores) into hyphens.
func swarmName(s string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r == '.' || r == '_' {
			return '-'
		}
		return r
	}, s), "-")
}

// SwarmService is the name of the Swarm service running process type typ
// of a deploy (its generation): APP-TYPE-GEN, with the characters Swarm
// refuses in a service name (dots, underscores) turned into hyphens, and
// at most 63 characters. Names are for people: Berth finds its services
// by their labels.
func (n Names) SwarmService(app, typ, generation string) string {
	if len(generation) > 6 {
		generation = generation[:6]
	}
	head := swarmName(n.name(app) + "-" + typ)
	if max := 63 - 1 - len(generation); len(head) > max {
		head = strings.TrimRight(head[:max], "-")
	}
	return head + "-" + generation
}
