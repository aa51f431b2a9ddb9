package routingcmd

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

func TestDomainsChange(t *testing.T) {
	t.Parallel()
	upd := func(res api.DomainsChangeResult) map[string]reply {
		return map[string]reply{"domains.update": {Resp: res}}
	}
	runCases(t, []cliCase{
		{Args: []string{"domains:add", "shop", "Example.com", "b.com", "EXAMPLE.com"}, Replies: upd(api.DomainsChangeResult{Added: []string{"example.com"}, Skipped: []string{"b.com"}}),
			Ops: []string{"domains.update"}, Reqs: map[string]string{"domains.update": `{"app":"shop","action":"add","domains":["Example.com","b.com","EXAMPLE.com"]}`},
			Stdout: "-----> Added example.com to shop\n", Stderr: " !     Skipping: b.com already added to shop\n"},
		{Args: []string{"domains:add", "shop"}, Code: 1, ErrLine: "Please specify a domain name. Usage: berth domains:add shop <domain> [<domain> ...]"},
		{Name: "domain of another app", Args: []string{"domains:add", "shop", "a.com"}, Replies: map[string]reply{"domains.update": {Err: api.Errorf(api.CodeConflict, "a.com is already used by app other")}},
			Code: 1, Ops: []string{"domains.update"}, ErrLine: "a.com is already used by app other"},
		{Name: "invalid domain", Args: []string{"domains:add", "shop", "a..com"}, Replies: map[string]reply{"domains.update": {Err: api.Errorf(api.CodeInvalid, "a..com is invalid")}},
			Code: 1, Ops: []string{"domains.update"}, ErrLine: "a..com is invalid"},
		{Args: []string{"domains:add", "gone", "a.com"}, Replies: map[string]reply{"domains.update": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"domains.update"}, ErrLine: "App gone does not exist"},
		{Args: []string{"domains:remove", "shop", "a.com", "B.com"}, Replies: upd(api.DomainsChangeResult{Removed: []string{"a.com"}, Missing: []string{"b.com"}}),
			Ops: []string{"domains.update"}, Reqs: map[string]string{"domains.update": `{"app":"shop","action":"remove","domains":["a.com","B.com"]}`},
			Stdout: "-----> Removed a.com from shop\n", Stderr: " !     Skipping: b.com is not a domain of shop\n"},
		{Args: []string{"domains:remove", "shop"}, Code: 1, ErrLine: "Please specify a domain name."},
		{Args: []string{"domains:set", "shop", "b.com", "a.com"}, Replies: upd(api.DomainsChangeResult{Domains: []string{"a.com", "b.com"}}),
			Ops: []string{"domains.update"}, Reqs: map[string]string{"domains.update": `{"app":"shop","action":"set","domains":["b.com","a.com"]}`}, Stdout: "-----> Set a.com b.com for shop\n"},
		{Args: []string{"domains:clear", "shop"}, Replies: upd(api.DomainsChangeResult{}), Ops: []string{"domains.update"},
			Reqs: map[string]string{"domains.update": `{"app":"shop","action":"clear"}`}, Stdout: "-----> Cleared domains in shop\n"},
		{Args: []string{"domains:clear", "shop", "a.com"}, Code: 1, ErrLine: "Unexpected argument(s): a.com"},
		{Args: []string{"domains:reset", "shop"}, Replies: upd(api.DomainsChangeResult{}), Ops: []string{"domains.update"},
			Reqs: map[string]string{"domains.update": `{"app":"shop","action":"reset"}`}, Stdout: "-----> Reset domains for shop\n"},
		{Name: "enable", Args: []string{"domains:enable", "shop"}, Replies: upd(api.DomainsChangeResult{Enabled: true}), Ops: []string{"domains.update"},
			Reqs: map[string]string{"domains.update": `{"app":"shop","action":"enable"}`}, Stdout: "-----> Enabled domains for shop\n"},
		{Name: "enable enabled", Args: []string{"domains:enable", "shop"}, Replies: upd(api.DomainsChangeResult{Enabled: true, WasEnabled: true}), Ops: []string{"domains.update"},
			Stdout: "-----> Domains are already enabled for shop\n"},
		{Name: "disable", Args: []string{"domains:disable", "shop"}, Replies: upd(api.DomainsChangeResult{WasEnabled: true}), Ops: []string{"domains.update"},
			Reqs: map[string]string{"domains.update": `{"app":"shop","action":"disable"}`}, Stdout: "-----> Disabled domains for shop\n"},
		{Name: "disable disabled", Args: []string{"domains:disable", "shop"}, Replies: upd(api.DomainsChangeResult{}), Ops: []string{"domains.update"},
			Stdout: "-----> Domains are already disabled for shop\n"},

		{Args: []string{"domains:add-global", "Example.com", "b.com"}, Replies: upd(api.DomainsChangeResult{Skipped: []string{"b.com"}}), Ops: []string{"domains.update"},
			Reqs:   map[string]string{"domains.update": `{"global":true,"action":"add","domains":["Example.com","b.com"]}`},
			Stdout: "-----> Added example.com\n", Stderr: " !     Skipping: b.com already added\n"},
		{Args: []string{"domains:add-global"}, Code: 1, ErrLine: "Please specify a domain name. Usage: berth domains:add-global <domain>..."},
		{Args: []string{"domains:remove-global", "a.com", "b.com"}, Replies: upd(api.DomainsChangeResult{Removed: []string{"b.com"}}), Ops: []string{"domains.update"},
			Reqs:   map[string]string{"domains.update": `{"global":true,"action":"remove","domains":["a.com","b.com"]}`},
			Stdout: "-----> Removed b.com\n", Stderr: " !     Skipping: a.com is not a global domain\n"},
		{Args: []string{"domains:set-global", "a.com"}, Replies: upd(api.DomainsChangeResult{Domains: []string{"a.com"}}), Ops: []string{"domains.update"},
			Reqs: map[string]string{"domains.update": `{"global":true,"action":"set","domains":["a.com"]}`}, Stdout: "-----> Set a.com\n"},
		{Args: []string{"domains:clear-global"}, Replies: upd(api.DomainsChangeResult{}), Ops: []string{"domains.update"},
			Reqs: map[string]string{"domains.update": `{"global":true,"action":"clear"}`}, Stdout: "-----> Cleared global domains\n"},
		{Args: []string{"domains:clear-global", "a.com"}, Code: 1, ErrLine: "Unexpected argument(s): a.com"},
		{Args: []string{"domains:add-global", "--app", "shop", "a.com"}, Code: 1, ErrLine: "Unknown flag --app for domains:add-global"},
	})
}

func TestDomainsReportAndURLs(t *testing.T) {
	t.Parallel()
	shop := api.DomainsReport{App: "shop", AppEnabled: true, AppVhosts: []string{"shop.example.com", "www.shop.com"}, GlobalEnabled: true, GlobalVhosts: []string{"example.com"}}
	one := map[string]reply{"domains.report": {Resp: api.DomainsReports{Reports: []api.DomainsReport{shop}}}}
	global := map[string]reply{"domains.report": {Resp: api.DomainsReports{Reports: []api.DomainsReport{{GlobalEnabled: true, GlobalVhosts: []string{"example.com", "example.org"}}}}}}
	row := func(label, value string) string { return sp(7) + label + sp(31-len(label)) + value + "\n" }
	runCases(t, []cliCase{
		{Args: []string{"domains:report", "shop"}, Replies: one, Ops: []string{"domains.report"}, Reqs: map[string]string{"domains.report": `{"app":"shop"}`},
			Stdout: "=====> shop domains information\n" + row("Domains app enabled:", "true") + row("Domains app vhosts:", "shop.example.com www.shop.com") +
				row("Domains global enabled:", "true") + row("Domains global vhosts:", "example.com")},
		{Args: []string{"domains", "shop", "--domains-app-vhosts"}, Replies: one, Ops: []string{"domains.report"}, Stdout: "shop.example.com www.shop.com\n"},
		{Name: "bare domains is the namespace's help", Args: []string{"domains"}, Has: []string{"Manage domains used by the proxy", "domains:add"}},
		{Args: []string{"domains:report", "shop", "--format", "json"}, Replies: one, Ops: []string{"domains.report"},
			Stdout: `{"app-enabled":"true","app-vhosts":"shop.example.com www.shop.com","global-enabled":"true","global-vhosts":"example.com"}` + "\n"},
		{Args: []string{"domains:report", "--global"}, Replies: global, Ops: []string{"domains.report"}, Reqs: map[string]string{"domains.report": `{"global":true}`},
			Stdout: "=====> global domains information\n" + row("Domains global enabled:", "true") + row("Domains global vhosts:", "example.com example.org")},
		{Args: []string{"domains:report", "--global", "--domains-app-vhosts"}, Replies: global, Code: 1, Ops: []string{"domains.report"},
			ErrLine: "Invalid flag passed, valid flags: --domains-global-enabled, --domains-global-vhosts"},
		{Args: []string{"domains:report", "--domains-app-enabled"}, Replies: map[string]reply{"domains.report": {Resp: api.DomainsReports{Reports: []api.DomainsReport{{App: "a", AppEnabled: true}, {App: "b"}}}}},
			Ops: []string{"domains.report"}, Reqs: map[string]string{"domains.report": `{"all":true}`}, Stdout: "true\nfalse\n"},
		{Name: "no apps", Args: []string{"domains:report"}, Replies: map[string]reply{"domains.report": {Resp: api.DomainsReports{}}}, Ops: []string{"domains.report"},
			Stderr: " !     You haven't deployed any applications yet\n"},
		{Args: []string{"domains:report", "shop", "extra"}, Code: 1, ErrLine: "Unexpected argument(s): extra"},

		{Args: []string{"url", "shop"}, Replies: map[string]reply{"domains.urls": {Resp: api.URLList{URLs: []string{"https://shop.example.com", "http://www.shop.com"}}}},
			Ops: []string{"domains.urls"}, Reqs: map[string]string{"domains.urls": `{"app":"shop"}`}, Stdout: "https://shop.example.com\n"},
		{Args: []string{"urls", "shop"}, Replies: map[string]reply{"domains.urls": {Resp: api.URLList{URLs: []string{"https://shop.example.com", "http://www.shop.com"}}}},
			Ops: []string{"domains.urls"}, Stdout: "https://shop.example.com\nhttp://www.shop.com\n"},
		{Name: "no url", Args: []string{"url", "shop"}, Replies: map[string]reply{"domains.urls": {Err: api.Errorf(api.CodeInvalid, "shop has no URL yet: it has no domain; add one with domains:add shop DOMAIN")}},
			Code: 1, Ops: []string{"domains.urls"}, ErrLine: "shop has no URL yet"},
		{Args: []string{"urls", "shop", "x"}, Code: 1, ErrLine: "Unexpected argument(s): x"},
	})
}

func TestPorts(t *testing.T) {
	t.Parallel()
	report := func(r api.PortsReport) map[string]reply {
		r.App = "shop"
		return map[string]reply{"ports.report": {Resp: api.PortsReports{Reports: []api.PortsReport{r}}}}
	}
	set := report(api.PortsReport{Map: []string{"http:80:5000", "https:443:5000"}, Detected: []string{"http:80:8000"}})
	upd := func(r api.PortsReport) map[string]reply { return map[string]reply{"ports.update": {Resp: r}} }
	runCases(t, []cliCase{
		{Args: []string{"ports:list", "shop"}, Replies: set, Ops: []string{"ports.report"}, Reqs: map[string]string{"ports.report": `{"app":"shop"}`},
			Stdout: "-----> Port mappings for shop\n" +
				"    -----> scheme  host port  container port\n" +
				"    http           80         5000\n" +
				"    https          443        5000\n"},
		{Args: []string{"ports:list", "shop", "--quiet"}, Replies: set, Ops: []string{"ports.report"},
			Stdout: "    http   80   5000\n    https  443  5000\n"},
		{Name: "list detected", Args: []string{"ports:list", "shop"}, Replies: report(api.PortsReport{Detected: []string{"http:80:8000"}}), Ops: []string{"ports.report"},
			Stdout: "-----> Port mappings for shop\n    -----> scheme  host port  container port\n    http           80         8000\n"},
		{Name: "list none", Args: []string{"ports:list", "shop"}, Replies: report(api.PortsReport{}), Code: 1, Ops: []string{"ports.report"}, ErrLine: "No port mappings configured for app"},
		{Name: "list without a report", Args: []string{"ports:list", "shop"}, Replies: map[string]reply{"ports.report": {Resp: api.PortsReports{}}}, Code: 1, Ops: []string{"ports.report"},
			ErrLine: "no ports report for shop"},
		{Args: []string{"ports:list", "gone"}, Replies: map[string]reply{"ports.report": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"ports.report"}, ErrLine: "App gone does not exist"},

		{Args: []string{"ports:add", "shop", "http:8080:5000"}, Replies: upd(api.PortsReport{Map: []string{"http:80:5000", "http:8080:5000"}}), Ops: []string{"ports.update"},
			Reqs:   map[string]string{"ports.update": `{"app":"shop","action":"add","maps":["http:8080:5000"]}`},
			Stdout: "-----> Setting port mappings for shop\n       http:80:5000 http:8080:5000\n"},
		{Args: []string{"ports:set", "shop", "http:80:3000", "--quiet"}, Replies: upd(api.PortsReport{Map: []string{"http:80:3000"}}), Ops: []string{"ports.update"},
			Reqs: map[string]string{"ports.update": `{"app":"shop","action":"set","maps":["http:80:3000"]}`}},
		{Args: []string{"ports:remove", "shop", "8080"}, Replies: upd(api.PortsReport{Map: []string{"http:80:5000"}}), Ops: []string{"ports.update"},
			Reqs: map[string]string{"ports.update": `{"app":"shop","action":"remove","maps":["8080"]}`}, Stdout: "-----> Setting port mappings for shop\n       http:80:5000\n"},
		{Name: "remove the last map", Args: []string{"ports:remove", "shop", "http:80"}, Replies: upd(api.PortsReport{Detected: []string{"http:80:5000"}}), Ops: []string{"ports.update"},
			Stdout: "-----> Clearing port mappings for shop\n       The detected mapping applies: http:80:5000\n"},
		{Args: []string{"ports:clear", "shop"}, Replies: upd(api.PortsReport{Detected: []string{"http:80:5000"}}), Ops: []string{"ports.update"},
			Reqs: map[string]string{"ports.update": `{"app":"shop","action":"clear"}`}, Stdout: "-----> Clearing port mappings for shop\n       The detected mapping applies: http:80:5000\n"},
		{Args: []string{"ports:clear", "shop", "http:80:5000"}, Code: 1, ErrLine: "Unexpected argument(s): http:80:5000"},
		{Args: []string{"ports:add", "shop"}, Code: 1, ErrLine: "No port mapping specified"},
		{Name: "invalid map", Args: []string{"ports:add", "shop", "ftp:21"}, Replies: map[string]reply{"ports.update": {Err: api.Errorf(api.CodeInvalid, "Invalid port mapping ftp:21")}},
			Code: 1, Ops: []string{"ports.update"}, ErrLine: "Invalid port mapping ftp:21"},

		{Args: []string{"ports:report", "shop", "--ports-map"}, Replies: set, Ops: []string{"ports.report"}, Stdout: "http:80:5000 https:443:5000\n"},
		{Args: []string{"ports:report", "shop", "--ports-map-detected"}, Replies: set, Ops: []string{"ports.report"}, Stdout: "http:80:8000\n"},
		{Args: []string{"ports:report", "shop", "--format", "json"}, Replies: set, Ops: []string{"ports.report"},
			Stdout: `{"map":"http:80:5000 https:443:5000","map-detected":"http:80:8000","map-detected-json":"[{\"scheme\":\"http\",\"host_port\":80,\"container_port\":8000}]","map-json":"[{\"scheme\":\"http\",\"host_port\":80,\"container_port\":5000},{\"scheme\":\"https\",\"host_port\":443,\"container_port\":5000}]","ports-map":"http:80:5000 https:443:5000","ports-map-detected":"http:80:8000","ports-map-detected-json":"[{\"scheme\":\"http\",\"host_port\":80,\"container_port\":8000}]","ports-map-json":"[{\"scheme\":\"http\",\"host_port\":80,\"container_port\":5000},{\"scheme\":\"https\",\"host_port\":443,\"container_port\":5000}]"}` + "\n"},
		{Args: []string{"ports:report", "shop", "--ports-map-json"}, Replies: set, Ops: []string{"ports.report"},
			Stdout: `[{"scheme":"http","host_port":80,"container_port":5000},{"scheme":"https","host_port":443,"container_port":5000}]` + "\n"},
		{Args: []string{"ports:report", "shop", "--ports-map-detected-json"}, Replies: set, Ops: []string{"ports.report"},
			Stdout: `[{"scheme":"http","host_port":80,"container_port":8000}]` + "\n"},
		{Args: []string{"ports:report"}, Replies: map[string]reply{"ports.report": {Resp: api.PortsReports{}}}, Ops: []string{"ports.report"},
			Reqs: map[string]string{"ports.report": `{"all":true}`}, Stderr: " !     You haven't deployed any applications yet\n"},
	})
}
