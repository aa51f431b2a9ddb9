package routingcmd

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

func TestProxyCommands(t *testing.T) {
	t.Parallel()
	set := map[string]reply{"properties.set": {Resp: api.Empty{}}}
	toggle := func(changed bool) map[string]reply {
		return map[string]reply{"proxy.enable": {Resp: api.ProxyToggled{Changed: changed}}}
	}
	runCases(t, []cliCase{
		{Name: "port map for a type", Args: []string{"proxy:set", "shop", "http:80:80"}, Code: 1,
			ErrLine: "Detected potential port mapping instead of proxy type: use ports:set for port maps, or give a proxy type"},
		{Name: "type alone", Args: []string{"proxy:set", "shop", "caddy"}, Replies: set, Ops: []string{"properties.set"},
			Reqs: map[string]string{"properties.set": `{"app":"shop","namespace":"proxy","key":"type","value":"caddy"}`}, Stdout: "=====> Setting type to caddy\n"},
		{Name: "clear global", Args: []string{"proxy:set", "--global", "proxy-port"}, Replies: set, Ops: []string{"properties.set"},
			Reqs: map[string]string{"properties.set": `{"global":true,"namespace":"proxy","key":"proxy-port","unset":true}`}, Stdout: "=====> Unsetting proxy-port\n"},
		{Name: "disable", Args: []string{"proxy:disable", "shop"}, Replies: toggle(true), Ops: []string{"proxy.enable"},
			Reqs: map[string]string{"proxy.enable": `{"app":"shop","enabled":false}`}, Stdout: "-----> Disabling proxy for app\n"},
		{Name: "enable enabled", Args: []string{"proxy:enable", "shop"}, Replies: toggle(false), Ops: []string{"proxy.enable"},
			Reqs: map[string]string{"proxy.enable": `{"app":"shop","enabled":true}`}, Stdout: "-----> Proxy is already enabled for app\n"},
		{Name: "report of a disabled app", Args: []string{"proxy:report", "shop", "--proxy-enabled"},
			Replies: map[string]reply{"properties.report": {Resp: api.PropertyValues{App: map[string]string{"disabled": "true"}, Computed: map[string]string{"disabled": "true", "type": "nginx"}, Global: map[string]string{}}}},
			Ops:     []string{"properties.report"}, Stdout: "false\n"},
	})
}
