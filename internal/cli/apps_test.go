package cli

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

func TestApps(t *testing.T) {
	t.Parallel()
	info := func(a api.AppInfo) map[string]reply { return map[string]reply{"apps.info": {Resp: a}} }
	two := map[string]reply{"apps.list": {Resp: api.AppList{Apps: []api.AppInfo{{Name: "alpha"}, {Name: "beta"}}}}}
	none := map[string]reply{"apps.list": {Resp: api.AppList{}}}
	shop := map[string]reply{"apps.info": {Resp: api.AppInfo{Name: "shop"}}, "apps.destroy": {}}
	prompt := " !     WARNING: Potentially Destructive Action\n" +
		" !     This command will destroy app shop, its config and everything it owns.\n" +
		" !     To proceed, type \"shop\"\n\n> "
	runCases(t, []cliCase{
		// apps:create
		{args: []string{"apps:create", "shop", "extra"}, code: 1, errLine: "Unexpected argument(s): extra; see `berth help apps:create`"},
		{name: "create taken", args: []string{"apps:create", "shop"}, replies: map[string]reply{"apps.create": {Err: api.Errorf(api.CodeConflict, "Name is already taken")}},
			code: 1, ops: []string{"apps.create"}, errLine: "Name is already taken"},
		{name: "create invalid name", args: []string{"apps:create", "Shop"}, replies: map[string]reply{"apps.create": {Err: api.Errorf(api.CodeInvalid, "App name must begin with lowercase alphanumeric character")}},
			code: 1, ops: []string{"apps.create"}, reqs: map[string]string{"apps.create": `{"app":"Shop"}`}, errLine: "App name must begin"},

		// apps:list
		{args: []string{"apps:list"}, replies: two, ops: []string{"apps.list"}, reqs: map[string]string{"apps.list": `{}`}, stdout: "=====> My Apps\nalpha\nbeta\n"},
		{args: []string{"apps:list", "--quiet"}, replies: two, ops: []string{"apps.list"}, stdout: "alpha\nbeta\n"},
		{args: []string{"apps:list", "--format", "json"}, replies: two, ops: []string{"apps.list"}, stdout: `["alpha","beta"]` + "\n"},
		{args: []string{"apps:list", "--format=stdout"}, replies: two, ops: []string{"apps.list"}, stdout: "=====> My Apps\nalpha\nbeta\n"},
		{name: "list none", args: []string{"apps:list"}, replies: none, ops: []string{"apps.list"}, stderr: " !     You haven't deployed any applications yet\n"},
		{name: "list none json", args: []string{"apps:list", "--format", "json"}, replies: none, ops: []string{"apps.list"}, stdout: "[]\n"},
		// The format is checked once the list is read (a read changes nothing).
		{args: []string{"apps:list", "--format", "xml"}, replies: two, code: 1, ops: []string{"apps.list"}, errLine: "Invalid format: xml; use stdout or json"},

		// apps:destroy
		{args: []string{"apps:destroy", "shop", "--force"}, replies: shop, ops: []string{"apps.info", "apps.destroy"},
			reqs: map[string]string{"apps.info": `{"app":"shop"}`, "apps.destroy": `{"app":"shop"}`}, stdout: "-----> Destroying shop (including all add-ons)\n"},
		{name: "destroy confirmed", args: []string{"apps:destroy", "shop"}, stdin: "shop\n", replies: shop, ops: []string{"apps.info", "apps.destroy"},
			stdout: "-----> Destroying shop (including all add-ons)\n", stderr: prompt},
		{name: "destroy confirmation mismatch", args: []string{"apps:destroy", "shop"}, stdin: "shoe\n", replies: shop, code: 1, ops: []string{"apps.info"},
			stderr: prompt + " !     Confirmation did not match shop. Aborted.\n"},
		{name: "destroy no confirmation", args: []string{"apps:destroy", "shop"}, replies: shop, code: 1, ops: []string{"apps.info"},
			stderr: prompt + " !     Confirmation did not match shop. Aborted.\n"},
		{name: "destroy missing app asks nothing", args: []string{"apps:destroy", "gone"}, replies: map[string]reply{"apps.info": {Err: api.AppNotFound("gone")}},
			code: 20, ops: []string{"apps.info"}, errLine: "App gone does not exist"},
		{args: []string{"apps:destroy", "shop", "extra", "--force"}, code: 1, errLine: "Unexpected argument(s): extra"},

		// apps:exists
		{args: []string{"apps:exists", "shop"}, replies: info(api.AppInfo{Name: "shop"}), ops: []string{"apps.info"}, reqs: map[string]string{"apps.info": `{"app":"shop"}`}},
		{args: []string{"apps:exists", "gone"}, replies: map[string]reply{"apps.info": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"apps.info"}, errLine: "App gone does not exist"},

		// apps:rename and apps:clone
		{args: []string{"apps:rename", "old", "new"}, replies: map[string]reply{"apps.info": {}, "apps.rename": {Stdout: "-----> Deploying new\n"}},
			ops: []string{"apps.info", "apps.rename"}, reqs: map[string]string{"apps.info": `{"app":"old"}`, "apps.rename": `{"from":"old","to":"new"}`},
			stdout: "-----> Renaming old to new\n-----> Deploying new\n"},
		{args: []string{"apps:rename", "--skip-deploy", "old", "new"}, replies: map[string]reply{"apps.info": {}, "apps.rename": {}},
			ops: []string{"apps.info", "apps.rename"}, reqs: map[string]string{"apps.rename": `{"from":"old","to":"new","skip_deploy":true}`}, stdout: "-----> Renaming old to new\n"},
		{args: []string{"apps:rename", "old"}, code: 1, errLine: "Please specify a new app name"},
		{args: []string{"apps:rename", "old", "new", "newer"}, code: 1, errLine: "Unexpected argument(s): newer"},
		{name: "rename missing app", args: []string{"apps:rename", "old", "new"}, replies: map[string]reply{"apps.info": {Err: api.AppNotFound("old")}},
			code: 20, ops: []string{"apps.info"}, errLine: "App old does not exist"},
		{args: []string{"apps:clone", "old", "new", "--skip-deploy", "--ignore-existing"}, replies: map[string]reply{"apps.info": {}, "apps.clone": {}},
			ops: []string{"apps.info", "apps.clone"}, reqs: map[string]string{"apps.clone": `{"from":"old","to":"new","skip_deploy":true,"ignore_existing":true}`},
			stdout: "-----> Cloning old to new\n"},
		{args: []string{"apps:clone", "old"}, code: 1, errLine: "Please specify a new app name"},
		{name: "clone onto a taken name", args: []string{"apps:clone", "old", "new"}, replies: map[string]reply{"apps.info": {}, "apps.clone": {Err: api.Errorf(api.CodeConflict, "Name is already taken")}},
			code: 1, ops: []string{"apps.info", "apps.clone"}, stdout: "-----> Cloning old to new\n", errLine: "Name is already taken"},

		// locks
		{args: []string{"apps:lock", "shop"}, replies: map[string]reply{"apps.lock": {}}, ops: []string{"apps.lock"}, reqs: map[string]string{"apps.lock": `{"app":"shop"}`}, stdout: "-----> Deploy lock created\n"},
		{name: "unlock locked", args: []string{"apps:unlock", "shop"}, replies: map[string]reply{"apps.unlock": {Resp: api.LockResult{WasLocked: true}}}, ops: []string{"apps.unlock"},
			stdout: "-----> Deploy lock removed\n", stderr: " !     A deploy may be in progress.\n !     Removing the app lock will not stop in progress deploys.\n"},
		{name: "unlock unlocked", args: []string{"apps:unlock", "shop"}, replies: map[string]reply{"apps.unlock": {Resp: api.LockResult{}}}, ops: []string{"apps.unlock"},
			stdout: "-----> Deploy lock removed\n"},
		{name: "locked yes", args: []string{"apps:locked", "shop"}, replies: info(api.AppInfo{Name: "shop", Locked: true}), ops: []string{"apps.info"}, stdout: "Deploy lock exists\n"},
		{name: "locked yes quiet", args: []string{"apps:locked", "shop", "--quiet"}, replies: info(api.AppInfo{Name: "shop", Locked: true}), ops: []string{"apps.info"}},
		{name: "locked no", args: []string{"apps:locked", "shop"}, replies: info(api.AppInfo{Name: "shop"}), code: 1, ops: []string{"apps.info"}, errLine: "Deploy lock does not exist"},
	})
}

func TestAppsReport(t *testing.T) {
	t.Parallel()
	shop := api.AppInfo{Name: "shop", CreatedAt: time.Unix(1700000000, 0), Dir: "/var/lib/berth/apps/shop", DeploySource: "git", DeploySourceMetadata: "main", Locked: true}
	one := map[string]reply{"apps.info": {Resp: shop}}
	report := "=====> shop app information\n" +
		"       App created at:                1700000000\n" +
		"       App deploy source:             git\n" +
		"       App deploy source metadata:    main\n" +
		"       App dir:                       /var/lib/berth/apps/shop\n" +
		"       App locked:                    true\n"
	runCases(t, []cliCase{
		{args: []string{"apps:report", "shop"}, replies: one, ops: []string{"apps.info"}, reqs: map[string]string{"apps.info": `{"app":"shop"}`}, stdout: report},
		{args: []string{"apps:report", "shop", "--app-locked"}, replies: one, ops: []string{"apps.info"}, stdout: "true\n"},
		{args: []string{"apps:report", "shop", "--app-created-at"}, replies: one, ops: []string{"apps.info"}, stdout: "1700000000\n"},
		{args: []string{"apps:report", "--app-dir", "shop"}, replies: one, ops: []string{"apps.info"}, stdout: "/var/lib/berth/apps/shop\n"},
		{args: []string{"apps:report", "shop", "--app-nope"}, replies: one, code: 1, ops: []string{"apps.info"},
			errLine: "Invalid flag passed, valid flags: --app-created-at, --app-deploy-source, --app-deploy-source-metadata, --app-dir, --app-locked"},
		{args: []string{"apps:report", "shop", "--format", "json"}, replies: one, ops: []string{"apps.info"},
			stdout: `{"created-at":"1700000000","deploy-source":"git","deploy-source-metadata":"main","dir":"/var/lib/berth/apps/shop","locked":"true"}` + "\n"},
		{args: []string{"apps:report", "shop", "--format", "json", "--app-locked"}, replies: one, code: 1, ops: []string{"apps.info"},
			errLine: "--format flag cannot be specified when specifying an info flag"},
		{args: []string{"apps:report", "shop", "--format", "yaml"}, replies: one, code: 1, ops: []string{"apps.info"}, errLine: "Invalid format: yaml; use stdout or json"},
		{args: []string{"apps:report", "shop", "--app-locked", "--app-dir"}, code: 1, errLine: "Only one info flag may be given; got --app-locked and --app-dir"},
		{args: []string{"apps:report", "gone"}, replies: map[string]reply{"apps.info": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"apps.info"}, errLine: "App gone does not exist"},
		{name: "every app", args: []string{"apps:report", "--app-locked"}, replies: map[string]reply{"apps.list": {Resp: api.AppList{Apps: []api.AppInfo{{Name: "a", Locked: true}, {Name: "b"}}}}},
			ops: []string{"apps.list"}, stdout: "true\nfalse\n"},
		{name: "every app none", args: []string{"apps:report"}, replies: map[string]reply{"apps.list": {Resp: api.AppList{}}},
			ops: []string{"apps.list"}, stderr: " !     You haven't deployed any applications yet\n"},
		{name: "report quiet keeps details", args: []string{"apps:report", "shop", "--quiet"}, replies: one, ops: []string{"apps.info"},
			has: []string{"       App locked:                    true\n"}},
	})
}

// TestPropertySetters: NAMESPACE:set sends its namespace, an app or the
// global scope, and a clear when no value (or an empty one) is given.
func TestPropertySetters(t *testing.T) {
	t.Parallel()
	set := map[string]reply{"properties.set": {}}
	var cases []cliCase
	for _, ns := range []string{"apps", "ps", "checks", "proxy", "releases", "letsencrypt", "builder-dockerfile", "app-json"} {
		cases = append(cases,
			cliCase{args: []string{ns + ":set", "shop", "some-key", "v 1"}, replies: set, ops: []string{"properties.set"},
				reqs:   map[string]string{"properties.set": `{"app":"shop","namespace":"` + ns + `","key":"some-key","value":"v 1"}`},
				stdout: "=====> Setting some-key to v 1\n"},
			cliCase{args: []string{ns + ":set", "--global", "some-key"}, replies: set, ops: []string{"properties.set"},
				reqs:   map[string]string{"properties.set": `{"global":true,"namespace":"` + ns + `","key":"some-key","unset":true}`},
				stdout: "=====> Unsetting some-key\n"},
		)
	}
	cases = append(cases,
		cliCase{name: "empty value clears", args: []string{"ps:set", "shop", "restart-policy", ""}, replies: set, ops: []string{"properties.set"},
			reqs: map[string]string{"properties.set": `{"app":"shop","namespace":"ps","key":"restart-policy","unset":true}`}, stdout: "=====> Unsetting restart-policy\n"},
		cliCase{args: []string{"ps:set", "shop"}, code: 1, errLine: "No property specified; see `berth help ps:set`"},
		cliCase{args: []string{"ps:set", "shop", "a", "b", "c"}, code: 1, errLine: "Unexpected argument(s): c"},
		cliCase{args: []string{"ps:set", "--global", "--app", "shop", "a"}, code: 1, errLine: "Specify either an app or --global, not both"},
		cliCase{name: "daemon refuses the key", args: []string{"ps:set", "shop", "nope", "1"}, replies: map[string]reply{"properties.set": {Err: api.Errorf(api.CodeInvalid, "Invalid key nope for ps")}},
			code: 1, ops: []string{"properties.set"}, errLine: "Invalid key nope for ps"},
		cliCase{name: "set on a missing app", args: []string{"ps:set", "gone", "k", "1"}, replies: map[string]reply{"properties.set": {Err: api.AppNotFound("gone")}},
			code: 20, ops: []string{"properties.set"}, errLine: "App gone does not exist"},
	)
	runCases(t, cases)
}
