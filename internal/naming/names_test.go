package naming

import (
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/app"
)

// The grammar of Docker image references (distribution/reference) and of
// container names (the engine's restrictions).
var (
	dockerRepoRE      = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*$`)
	dockerTagRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	dockerContainerRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)
)

func TestNames(t *testing.T) {
	tests := []struct {
		prefix, app                                 string
		instance, container, upcoming, retired, run string
		repo, image                                 string
		containerType, runID                        string
		index, release                              int
	}{
		{
			prefix: "", app: "myapp", containerType: "web", index: 1, release: 7, runID: "a1b2c3",
			instance:  "default",
			container: "myapp.web.1", upcoming: "myapp.web.1.upcoming-7-0123abcd", retired: "myapp.web.1.1700000000", run: "myapp.run.a1b2c3",
			repo: "berth/myapp", image: "berth/myapp:7",
		},
		{
			prefix: "", app: "node-js-app", containerType: "worker-2", index: 12, release: 1, runID: "000000",
			instance:  "default",
			container: "node-js-app.worker-2.12", upcoming: "node-js-app.worker-2.12.upcoming-1-0123abcd", retired: "node-js-app.worker-2.12.1700000000", run: "node-js-app.run.000000",
			repo: "berth/node-js-app", image: "berth/node-js-app:1",
		},
		{
			prefix: "staging", app: "api", containerType: "web", index: 2, release: 30, runID: "ffffff",
			instance:  "staging",
			container: "staging-api.web.2", upcoming: "staging-api.web.2.upcoming-30-0123abcd", retired: "staging-api.web.2.1700000000", run: "staging-api.run.ffffff",
			repo: "staging-berth/api", image: "staging-berth/api:30",
		},
		{
			prefix: "b2", app: "www.example.com", containerType: "web", index: 1, release: 3, runID: "abcdef",
			instance:  "b2",
			container: "b2-www.example.com.web.1", upcoming: "b2-www.example.com.web.1.upcoming-3-0123abcd", retired: "b2-www.example.com.web.1.1700000000", run: "b2-www.example.com.run.abcdef",
			repo: "b2-berth/www.example.com", image: "b2-berth/www.example.com:3",
		},
		{
			prefix: "", app: "a.-b", containerType: "web", index: 1, release: 2, runID: "abcdef",
			instance:  "default",
			container: "a.-b.web.1", upcoming: "a.-b.web.1.upcoming-2-0123abcd", retired: "a.-b.web.1.1700000000", run: "a.-b.run.abcdef",
			repo: "berth/a--b/1", image: "berth/a--b/1:2",
		},
		{
			prefix: "p", app: "x-.y.z-.w", containerType: "web", index: 1, release: 2, runID: "abcdef",
			instance:  "p",
			container: "p-x-.y.z-.w.web.1", upcoming: "p-x-.y.z-.w.web.1.upcoming-2-0123abcd", retired: "p-x-.y.z-.w.web.1.1700000000", run: "p-x-.y.z-.w.run.abcdef",
			repo: "p-berth/x--y-z--w/2-4-7", image: "p-berth/x--y-z--w/2-4-7:2",
		},
	}
	for _, tc := range tests {
		n := Names{Prefix: tc.prefix}
		check := func(what, got, want string) {
			t.Helper()
			if got != want {
				t.Errorf("Names{%q}.%s for %s = %q, want %q", tc.prefix, what, tc.app, got, want)
			}
		}
		check("Instance()", n.Instance(), tc.instance)
		check("Container()", n.Container(tc.app, tc.containerType, tc.index), tc.container)
		check("Upcoming()", n.Upcoming(tc.app, tc.containerType, tc.index, tc.release, "0123abcd99"), tc.upcoming)
		check("Retired()", n.Retired(tc.app, tc.containerType, tc.index, 1700000000), tc.retired)
		if !n.IsRetired(tc.retired, tc.app, tc.containerType, tc.index) {
			t.Errorf("Names{%q}.IsRetired(%q) = false", tc.prefix, tc.retired)
		}
		for _, other := range []string{tc.container, tc.upcoming, tc.run, tc.container + ".", tc.container + ".12a", n.Retired(tc.app, tc.containerType, tc.index+1, 1700000000)} {
			if n.IsRetired(other, tc.app, tc.containerType, tc.index) {
				t.Errorf("Names{%q}.IsRetired(%q) = true for %s.%d", tc.prefix, other, tc.containerType, tc.index)
			}
		}
		check("RunContainer()", n.RunContainer(tc.app, tc.runID), tc.run)
		check("ImageRepo()", n.ImageRepo(tc.app), tc.repo)
		check("Image()", n.Image(tc.app, tc.release), tc.image)

		want := map[string]string{LabelInstance: tc.instance, LabelApp: tc.app}
		if got := n.AppLabels(tc.app); !maps.Equal(got, want) {
			t.Errorf("AppLabels = %v, want %v", got, want)
		}
		want[LabelKind] = KindRun
		if got := n.KindLabels(tc.app, KindRun); !maps.Equal(got, want) {
			t.Errorf("KindLabels = %v, want %v", got, want)
		}
		// KindLabels must not change what AppLabels returns next time.
		if got := n.AppLabels(tc.app); len(got) != 2 {
			t.Errorf("AppLabels after KindLabels = %v", got)
		}
	}
}

// sampleApps are valid app names, including the awkward ones.
var sampleApps = []string{
	"a", "0", "app", "my-app", "my--app", "my.app", "a.b.c", "a-b.c", "a.b-c",
	"a.-b", "a-.b", "a.--b", "a--.b", "a.-.b", "a-.-b", "a-b", "a--b", "a---b",
	"www.example.com", "www-example.com", "www.example-com", "www-example-com",
	"x.-y.-z", "x-.y-.z", "x.-y-.z", "1.2.3.4", "1-2.3-4", strings.Repeat("a.", 23) + "ab",
	strings.Repeat("a.-", 15) + "abc",
}

func TestImageRepoValidForDocker(t *testing.T) {
	// The grammar itself: a dot may not touch a hyphen, upper case is out.
	for _, bad := range []string{"berth/a.-b", "berth/a-.b", "berth/A", "berth/-a", "berth/a-", "berth//a", "berth/a..b"} {
		if dockerRepoRE.MatchString(bad) {
			t.Fatalf("dockerRepoRE accepts %q", bad)
		}
	}
	for _, a := range sampleApps {
		if err := app.ValidateName(a); err != nil {
			t.Fatalf("sample app %q is not a valid app name: %v", a, err)
		}
		for _, prefix := range []string{"", "p", "my-berth-2"} {
			n := Names{Prefix: prefix}
			repo := n.ImageRepo(a)
			if !dockerRepoRE.MatchString(repo) || len(repo) > 255 {
				t.Errorf("Names{%q}.ImageRepo(%q) = %q is not a valid Docker repository", prefix, a, repo)
			}
			image := n.Image(a, 123456)
			r, tag, ok := strings.Cut(image, ":")
			if !ok || r != repo || !dockerTagRE.MatchString(tag) {
				t.Errorf("Names{%q}.Image(%q, 123456) = %q is not REPO:TAG", prefix, a, image)
			}
			for _, c := range []string{n.Container(a, "web", 1), n.Upcoming(a, "worker-2", 10, 99, "0123abcd"), n.Retired(a, "web", 12, 1700000000), n.RunContainer(a, "a1b2c3")} {
				if !dockerContainerRE.MatchString(c) {
					t.Errorf("container name %q is not valid for Docker", c)
				}
			}
		}
	}
}

// Two apps must never share image tags: a deploy of one would retag the
// other's release images, which the other then runs on its next restart.
func TestImageRepoDistinctPerApp(t *testing.T) {
	for _, prefix := range []string{"", "p"} {
		n := Names{Prefix: prefix}
		seen := map[string]string{}
		for _, a := range sampleApps {
			repo := n.ImageRepo(a)
			if other, dup := seen[repo]; dup {
				t.Errorf("apps %q and %q share the image repository %q", other, a, repo)
			}
			seen[repo] = a
		}
	}
	// Instances with different prefixes do not share repositories either.
	if (Names{}).ImageRepo("x") == (Names{Prefix: "p"}).ImageRepo("x") {
		t.Error("prefix ignored by ImageRepo")
	}
}

// TestNetworks: each app and each service has its own network, valid for
// the engine, told apart from each other and from other instances'.
func TestNetworks(t *testing.T) {
	for _, prefix := range []string{"", "bt1-2"} {
		n := Names{Prefix: prefix}
		seen := map[string]string{n.SharedNetwork(): "shared"}
		for _, app := range sampleApps {
			net := n.AppNetwork(app)
			if !dockerContainerRE.MatchString(net) {
				t.Errorf("AppNetwork(%q) = %q, not a valid network name", app, net)
			}
			if got, ok := n.AppOfNetwork(net); !ok || got != app {
				t.Errorf("AppOfNetwork(%q) = %q, %v", net, got, ok)
			}
			if other, dup := seen[net]; dup {
				t.Errorf("%q is the network of %s and %s", net, app, other)
			}
			seen[net] = app
			if l := n.AppNetworkLabels(app); l[LabelInstance] != n.Instance() || l[LabelApp] != app || l[LabelKind] != KindNetwork {
				t.Errorf("AppNetworkLabels(%q) = %v", app, l)
			}
		}
		for _, svc := range []string{"db", "UP", "shop-db", "a.b"} {
			net := n.ServiceNetwork("postgres", svc)
			if !dockerContainerRE.MatchString(net) {
				t.Errorf("ServiceNetwork(%q) = %q, not a valid network name", svc, net)
			}
			if _, isApp := n.AppOfNetwork(net); isApp {
				t.Errorf("ServiceNetwork(%q) = %q reads as an app's network", svc, net)
			}
			if other, dup := seen[net]; dup {
				t.Errorf("%q is the network of service %s and %s", net, svc, other)
			}
			seen[net] = svc
			if l := n.ServiceLabels("postgres", svc); l[LabelInstance] != n.Instance() || l[LabelKind] != KindService || l[LabelServiceName] != svc || l[LabelServiceKind] != "postgres" {
				t.Errorf("ServiceLabels = %v", l)
			}
		}
		for _, other := range []string{n.SharedNetwork(), "bridge", Names{Prefix: "other"}.AppNetwork("a"), n.AppNetwork("")} {
			if app, ok := n.AppOfNetwork(other); ok {
				t.Errorf("Names{%q}.AppOfNetwork(%q) = %q, true", prefix, other, app)
			}
		}
	}
}

// Each app has its own overlay network on Swarm, a valid DNS name
// component, even apps whose names differ only by a dot or a hyphen.
func TestSwarmNetworksDistinct(t *testing.T) {
	for _, prefix := range []string{"", "bt1-2"} {
		n := Names{Prefix: prefix}
		seen := map[string]string{}
		for _, app := range append(sampleApps, "a.b", "a-b", "a_b", "shop") {
			net := n.SwarmNetwork(app)
			if strings.ContainsAny(net, "._") || strings.HasPrefix(net, "-") || strings.HasSuffix(net, "-") {
				t.Errorf("SwarmNetwork(%q) = %q: not a DNS name component", app, net)
			}
			if other, dup := seen[net]; dup && other != app {
				t.Errorf("%q is the overlay of %s and %s", net, app, other)
			}
			seen[net] = app
		}
	}
	if got := (Names{}).SwarmNetwork("shop"); got != "berth-swarm-shop" {
		t.Errorf("SwarmNetwork(shop) = %q: a plain name keeps its plain network", got)
	}
}
