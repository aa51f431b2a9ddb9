package cli

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
		{args: []string{"domains:add", "shop", "Example.com", "b.com", "EXAMPLE.com"}, replies: upd(api.DomainsChangeResult{Added: []string{"example.com"}, Skipped: []string{"b.com"}}),
			ops: []string{"domains.update"}, reqs: map[string]string{"domains.update": `{"app":"shop","action":"add","domains":["Example.com","b.com","EXAMPLE.com"]}`},
			stdout: "-----> Added example.com to shop\n", stderr: " !     Skipping: b.com already added to shop\n"},
		{args: []string{"domains:add", "shop"}, code: 1, errLine: "Please specify a domain name. Usage: berth domains:add shop <domain> [<domain> ...]"},
		{name: "domain of another app", args: []string{"domains:add", "shop", "a.com"}, replies: map[string]reply{"domains.update": {Err: api.Errorf(api.CodeConflict, "a.com is already used by app other")}},
			code: 1, ops: []string{"domains.update"}, errLine: "a.com is already used by app other"},
		{name: "invalid domain", args: []string{"domains:add", "shop", "a..com"}, replies: map[string]reply{"domains.update": {Err: api.Errorf(api.CodeInvalid, "a..com is invalid")}},
			code: 1, ops: []string{"domains.update"}, errLine: "a..com is invalid"},
		{args: []string{"domains:add", "gone", "a.com"}, replies: map[string]reply{"domains.update": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"domains.update"}, errLine: "App gone does not exist"},
		{args: []string{"domains:remove", "shop", "a.com", "B.com"}, replies: upd(api.DomainsChangeResult{Removed: []string{"a.com"}, Missing: []string{"b.com"}}),
			ops: []string{"domains.update"}, reqs: map[string]string{"domains.update": `{"app":"shop","action":"remove","domains":["a.com","B.com"]}`},
			stdout: "-----> Removed a.com from shop\n", stderr: " !     Skipping: b.com is not a domain of shop\n"},
		{args: []string{"domains:remove", "shop"}, code: 1, errLine: "Please specify a domain name."},
		{args: []string{"domains:set", "shop", "b.com", "a.com"}, replies: upd(api.DomainsChangeResult{Domains: []string{"a.com", "b.com"}}),
			ops: []string{"domains.update"}, reqs: map[string]string{"domains.update": `{"app":"shop","action":"set","domains":["b.com","a.com"]}`}, stdout: "-----> Set a.com b.com for shop\n"},
		{args: []string{"domains:clear", "shop"}, replies: upd(api.DomainsChangeResult{}), ops: []string{"domains.update"},
			reqs: map[string]string{"domains.update": `{"app":"shop","action":"clear"}`}, stdout: "-----> Cleared domains in shop\n"},
		{args: []string{"domains:clear", "shop", "a.com"}, code: 1, errLine: "Unexpected argument(s): a.com"},
		{args: []string{"domains:reset", "shop"}, replies: upd(api.DomainsChangeResult{}), ops: []string{"domains.update"},
			reqs: map[string]string{"domains.update": `{"app":"shop","action":"reset"}`}, stdout: "-----> Reset domains for shop\n"},
		{name: "enable", args: []string{"domains:enable", "shop"}, replies: upd(api.DomainsChangeResult{Enabled: true}), ops: []string{"domains.update"},
			reqs: map[string]string{"domains.update": `{"app":"shop","action":"enable"}`}, stdout: "-----> Enabled domains for shop\n"},
		{name: "enable enabled", args: []string{"domains:enable", "shop"}, replies: upd(api.DomainsChangeResult{Enabled: true, WasEnabled: true}), ops: []string{"domains.update"},
			stdout: "-----> Domains are already enabled for shop\n"},
		{name: "disable", args: []string{"domains:disable", "shop"}, replies: upd(api.DomainsChangeResult{WasEnabled: true}), ops: []string{"domains.update"},
			reqs: map[string]string{"domains.update": `{"app":"shop","action":"disable"}`}, stdout: "-----> Disabled domains for shop\n"},
		{name: "disable disabled", args: []string{"domains:disable", "shop"}, replies: upd(api.DomainsChangeResult{}), ops: []string{"domains.update"},
			stdout: "-----> Domains are already disabled for shop\n"},

		{args: []string{"domains:add-global", "Example.com", "b.com"}, replies: upd(api.DomainsChangeResult{Skipped: []string{"b.com"}}), ops: []string{"domains.update"},
			reqs:   map[string]string{"domains.update": `{"global":true,"action":"add","domains":["Example.com","b.com"]}`},
			stdout: "-----> Added example.com\n", stderr: " !     Skipping: b.com already added\n"},
		{args: []string{"domains:add-global"}, code: 1, errLine: "Please specify a domain name. Usage: berth domains:add-global <domain>..."},
		{args: []string{"domains:remove-global", "a.com", "b.com"}, replies: upd(api.DomainsChangeResult{Removed: []string{"b.com"}}), ops: []string{"domains.update"},
			reqs:   map[string]string{"domains.update": `{"global":true,"action":"remove","domains":["a.com","b.com"]}`},
			stdout: "-----> Removed b.com\n", stderr: " !     Skipping: a.com is not a global domain\n"},
		{args: []string{"domains:set-global", "a.com"}, replies: upd(api.DomainsChangeResult{Domains: []string{"a.com"}}), ops: []string{"domains.update"},
			reqs: map[string]string{"domains.update": `{"global":true,"action":"set","domains":["a.com"]}`}, stdout: "-----> Set a.com\n"},
		{args: []string{"domains:clear-global"}, replies: upd(api.DomainsChangeResult{}), ops: []string{"domains.update"},
			reqs: map[string]string{"domains.update": `{"global":true,"action":"clear"}`}, stdout: "-----> Cleared global domains\n"},
		{args: []string{"domains:clear-global", "a.com"}, code: 1, errLine: "Unexpected argument(s): a.com"},
		{args: []string{"domains:add-global", "--app", "shop", "a.com"}, code: 1, errLine: "Unknown flag --app for domains:add-global"},
	})
}

func TestDomainsReportAndURLs(t *testing.T) {
	t.Parallel()
	shop := api.DomainsReport{App: "shop", AppEnabled: true, AppVhosts: []string{"shop.example.com", "www.shop.com"}, GlobalEnabled: true, GlobalVhosts: []string{"example.com"}}
	one := map[string]reply{"domains.report": {Resp: api.DomainsReports{Reports: []api.DomainsReport{shop}}}}
	global := map[string]reply{"domains.report": {Resp: api.DomainsReports{Reports: []api.DomainsReport{{GlobalEnabled: true, GlobalVhosts: []string{"example.com", "example.org"}}}}}}
	row := func(label, value string) string { return sp(7) + label + sp(31-len(label)) + value + "\n" }
	runCases(t, []cliCase{
		{args: []string{"domains:report", "shop"}, replies: one, ops: []string{"domains.report"}, reqs: map[string]string{"domains.report": `{"app":"shop"}`},
			stdout: "=====> shop domains information\n" + row("Domains app enabled:", "true") + row("Domains app vhosts:", "shop.example.com www.shop.com") +
				row("Domains global enabled:", "true") + row("Domains global vhosts:", "example.com")},
		{args: []string{"domains", "shop", "--domains-app-vhosts"}, replies: one, ops: []string{"domains.report"}, stdout: "shop.example.com www.shop.com\n"},
		{args: []string{"domains:report", "shop", "--format", "json"}, replies: one, ops: []string{"domains.report"},
			stdout: `{"app-enabled":"true","app-vhosts":"shop.example.com www.shop.com","global-enabled":"true","global-vhosts":"example.com"}` + "\n"},
		{args: []string{"domains:report", "--global"}, replies: global, ops: []string{"domains.report"}, reqs: map[string]string{"domains.report": `{"global":true}`},
			stdout: "=====> Global domains information\n" + row("Domains global enabled:", "true") + row("Domains global vhosts:", "example.com example.org")},
		{args: []string{"domains:report", "--global", "--domains-app-vhosts"}, replies: global, code: 1, ops: []string{"domains.report"},
			errLine: "Invalid flag passed, valid flags: --domains-global-enabled, --domains-global-vhosts"},
		{args: []string{"domains:report", "--domains-app-enabled"}, replies: map[string]reply{"domains.report": {Resp: api.DomainsReports{Reports: []api.DomainsReport{{App: "a", AppEnabled: true}, {App: "b"}}}}},
			ops: []string{"domains.report"}, reqs: map[string]string{"domains.report": `{"all":true}`}, stdout: "true\nfalse\n"},
		{name: "no apps", args: []string{"domains:report"}, replies: map[string]reply{"domains.report": {Resp: api.DomainsReports{}}}, ops: []string{"domains.report"},
			stderr: " !     You haven't deployed any applications yet\n"},
		{args: []string{"domains:report", "shop", "extra"}, code: 1, errLine: "Unexpected argument(s): extra"},

		{args: []string{"url", "shop"}, replies: map[string]reply{"domains.urls": {Resp: api.URLList{URLs: []string{"https://shop.example.com", "http://www.shop.com"}}}},
			ops: []string{"domains.urls"}, reqs: map[string]string{"domains.urls": `{"app":"shop"}`}, stdout: "https://shop.example.com\n"},
		{args: []string{"urls", "shop"}, replies: map[string]reply{"domains.urls": {Resp: api.URLList{URLs: []string{"https://shop.example.com", "http://www.shop.com"}}}},
			ops: []string{"domains.urls"}, stdout: "https://shop.example.com\nhttp://www.shop.com\n"},
		{name: "no url", args: []string{"url", "shop"}, replies: map[string]reply{"domains.urls": {Err: api.Errorf(api.CodeInvalid, "shop has no URL yet: it has no domain; add one with domains:add shop DOMAIN")}},
			code: 1, ops: []string{"domains.urls"}, errLine: "shop has no URL yet"},
		{args: []string{"urls", "shop", "x"}, code: 1, errLine: "Unexpected argument(s): x"},
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
		{args: []string{"ports:list", "shop"}, replies: set, ops: []string{"ports.report"}, reqs: map[string]string{"ports.report": `{"app":"shop"}`},
			stdout: "-----> Port mappings for shop\n" +
				"    -----> scheme  host port  container port\n" +
				"    http           80         5000\n" +
				"    https          443        5000\n"},
		{args: []string{"ports:list", "shop", "--quiet"}, replies: set, ops: []string{"ports.report"},
			stdout: "    http   80   5000\n    https  443  5000\n"},
		{name: "list detected", args: []string{"ports:list", "shop"}, replies: report(api.PortsReport{Detected: []string{"http:80:8000"}}), ops: []string{"ports.report"},
			stdout: "-----> Port mappings for shop\n    -----> scheme  host port  container port\n    http           80         8000\n"},
		{name: "list none", args: []string{"ports:list", "shop"}, replies: report(api.PortsReport{}), code: 1, ops: []string{"ports.report"}, errLine: "No port mappings configured for app"},
		{name: "list without a report", args: []string{"ports:list", "shop"}, replies: map[string]reply{"ports.report": {Resp: api.PortsReports{}}}, code: 1, ops: []string{"ports.report"},
			errLine: "no ports report for shop"},
		{args: []string{"ports:list", "gone"}, replies: map[string]reply{"ports.report": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"ports.report"}, errLine: "App gone does not exist"},

		{args: []string{"ports:add", "shop", "http:8080:5000"}, replies: upd(api.PortsReport{Map: []string{"http:80:5000", "http:8080:5000"}}), ops: []string{"ports.update"},
			reqs:   map[string]string{"ports.update": `{"app":"shop","action":"add","maps":["http:8080:5000"]}`},
			stdout: "-----> Setting port mappings for shop\n       http:80:5000 http:8080:5000\n"},
		{args: []string{"ports:set", "shop", "http:80:3000", "--quiet"}, replies: upd(api.PortsReport{Map: []string{"http:80:3000"}}), ops: []string{"ports.update"},
			reqs: map[string]string{"ports.update": `{"app":"shop","action":"set","maps":["http:80:3000"]}`}},
		{args: []string{"ports:remove", "shop", "8080"}, replies: upd(api.PortsReport{Map: []string{"http:80:5000"}}), ops: []string{"ports.update"},
			reqs: map[string]string{"ports.update": `{"app":"shop","action":"remove","maps":["8080"]}`}, stdout: "-----> Setting port mappings for shop\n       http:80:5000\n"},
		{name: "remove the last map", args: []string{"ports:remove", "shop", "http:80"}, replies: upd(api.PortsReport{Detected: []string{"http:80:5000"}}), ops: []string{"ports.update"},
			stdout: "-----> Clearing port mappings for shop\n       The detected mapping applies: http:80:5000\n"},
		{args: []string{"ports:clear", "shop"}, replies: upd(api.PortsReport{Detected: []string{"http:80:5000"}}), ops: []string{"ports.update"},
			reqs: map[string]string{"ports.update": `{"app":"shop","action":"clear"}`}, stdout: "-----> Clearing port mappings for shop\n       The detected mapping applies: http:80:5000\n"},
		{args: []string{"ports:clear", "shop", "http:80:5000"}, code: 1, errLine: "Unexpected argument(s): http:80:5000"},
		{args: []string{"ports:add", "shop"}, code: 1, errLine: "No port mapping specified"},
		{name: "invalid map", args: []string{"ports:add", "shop", "ftp:21"}, replies: map[string]reply{"ports.update": {Err: api.Errorf(api.CodeInvalid, "Invalid port mapping ftp:21")}},
			code: 1, ops: []string{"ports.update"}, errLine: "Invalid port mapping ftp:21"},

		{args: []string{"ports:report", "shop", "--ports-map"}, replies: set, ops: []string{"ports.report"}, stdout: "http:80:5000 https:443:5000\n"},
		{args: []string{"ports:report", "shop", "--ports-map-detected"}, replies: set, ops: []string{"ports.report"}, stdout: "http:80:8000\n"},
		{args: []string{"ports:report", "shop", "--format", "json"}, replies: set, ops: []string{"ports.report"},
			stdout: `{"map":"http:80:5000 https:443:5000","map-detected":"http:80:8000"}` + "\n"},
		{args: []string{"ports:report"}, replies: map[string]reply{"ports.report": {Resp: api.PortsReports{}}}, ops: []string{"ports.report"},
			reqs: map[string]string{"ports.report": `{"all":true}`}, stderr: " !     You haven't deployed any applications yet\n"},
	})
}
