package routing

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/proxy"
)

func mapsString(maps []app.PortMap) string {
	s := make([]string, len(maps))
	for i, m := range maps {
		s[i] = m.String()
	}
	return strings.Join(s, " ")
}

// TestDetectedPortMaps: Dokku's detected maps, from every EXPOSE, with a
// certificate's https.
func TestDetectedPortMaps(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		d    detected
		want string
	}{
		{"nothing deployed", detected{}, "http:80:5000"},
		{"no EXPOSE", detected{webPort: 5000, haveImagePort: true}, "http:80:5000"},
		{"every EXPOSE", detected{webPort: 3000, tcp: []int{3000, 3003}, udp: []int{3001}, haveImagePort: true}, "http:3000:3000 http:3003:3003 udp:3001:3001"},
		{"EXPOSE with a certificate", detected{tcp: []int{3000, 3003}, udp: []int{3001}, haveImagePort: true, hasCert: true}, "https:3000:3000 https:3003:3003 udp:3001:3001"},
		{"default with a certificate", detected{webPort: 5000, hasCert: true}, "http:80:5000 https:443:5000"},
		{"proxy ports", detected{webPort: 5000, hasCert: true, proxyPort: 8080, proxySSLPort: 8443}, "https:8080:5000"},
		{"EXPOSE 443", detected{tcp: []int{443}, haveImagePort: true}, "https:443:443"},
	} {
		if got := mapsString(detectedPortMaps(c.d)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestExtraPortsOfRoute: set maps on other host ports become the route's
// extra ports, to the web containers' port only; https ones need a
// certificate.
func TestExtraPortsOfRoute(t *testing.T) {
	t.Parallel()
	m := &Manager{httpAddr: "127.0.0.1:8000", httpsAddr: "127.0.0.1:8443"}
	maps := []app.PortMap{pm("http:80:5000"), pm("http:8000:5000"), pm("http:8080:5000"), pm("http:8081:5000"), pm("http:9090:5001"), pm("https:443:5000"), pm("https:9443:5000")}
	if got, want := m.extraPorts(maps, 5000, false), []proxy.Port{{Port: 8080}, {Port: 8081}}; !reflect.DeepEqual(got, want) {
		t.Errorf("without a certificate: %v, want %v", got, want)
	}
	if got, want := m.extraPorts(maps, 5000, true), []proxy.Port{{Port: 8080}, {Port: 8081}, {Port: 9443, TLS: true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("with a certificate: %v, want %v", got, want)
	}
}

// TestPortsAddRefusesTakenPorts: a scheme and host port already mapped is
// refused by ports:add, the same map included, and nothing changes.
func TestPortsAddRefusesTakenPorts(t *testing.T) {
	e := newEnv(t, nil)
	e.createApp("shop")
	if _, err := e.ports(api.PortsChange{App: "shop", Action: api.PortsSet, Maps: []string{"http:1234:5001"}}); err != nil {
		t.Fatal(err)
	}
	for _, add := range [][]string{{"http:1234:5001"}, {"http:1234:5003", "http:12345:5004"}, {"http:12345:5002", "http:12345:5004"}} {
		if _, err := e.ports(api.PortsChange{App: "shop", Action: api.PortsAdd, Maps: add}); err == nil {
			t.Errorf("ports:add %v accepted", add)
		}
	}
	res, err := api.PortsReportOp.Call(e.ctx, e.mux, api.PortsRequest{App: "shop"})
	if err != nil || len(res.Reports) != 1 || !eq(res.Reports[0].Map, list("http:1234:5001")) {
		t.Errorf("after the refusals: %+v, %v", res, err)
	}
}
