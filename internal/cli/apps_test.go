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
		{Args: []string{"apps:create", "shop", "extra"}, Code: 1, ErrLine: "Unexpected argument(s): extra; see `berth help apps:create`"},
		{Name: "create taken", Args: []string{"apps:create", "shop"}, Replies: map[string]reply{"apps.create": {Err: api.Errorf(api.CodeConflict, "Name is already taken")}},
			Code: 1, Ops: []string{"apps.create"}, ErrLine: "Name is already taken"},
		{Name: "create invalid name", Args: []string{"apps:create", "Shop"}, Replies: map[string]reply{"apps.create": {Err: api.Errorf(api.CodeInvalid, "App name must begin with lowercase alphanumeric character")}},
			Code: 1, Ops: []string{"apps.create"}, Reqs: map[string]string{"apps.create": `{"app":"Shop"}`}, ErrLine: "App name must begin"},

		// apps:list
		{Args: []string{"apps:list"}, Replies: two, Ops: []string{"apps.list"}, Reqs: map[string]string{"apps.list": `{}`}, Stdout: "=====> My Apps\nalpha\nbeta\n"},
		{Args: []string{"apps:list", "--quiet"}, Replies: two, Ops: []string{"apps.list"}, Stdout: "alpha\nbeta\n"},
		{Args: []string{"apps:list", "--format", "json"}, Replies: two, Ops: []string{"apps.list"}, Stdout: `["alpha","beta"]` + "\n"},
		{Args: []string{"apps:list", "--format=stdout"}, Replies: two, Ops: []string{"apps.list"}, Stdout: "=====> My Apps\nalpha\nbeta\n"},
		{Name: "list none", Args: []string{"apps:list"}, Replies: none, Ops: []string{"apps.list"}, Stderr: " !     You haven't deployed any applications yet\n"},
		{Name: "list none json", Args: []string{"apps:list", "--format", "json"}, Replies: none, Ops: []string{"apps.list"}, Stdout: "[]\n"},
		// The format is checked once the list is read (a read changes nothing).
		{Args: []string{"apps:list", "--format", "xml"}, Replies: two, Code: 1, ErrLine: "Invalid format: xml; use stdout or json"},

		// apps:destroy
		{Args: []string{"apps:destroy", "shop", "--force"}, Replies: shop, Ops: []string{"apps.info", "apps.destroy"},
			Reqs: map[string]string{"apps.info": `{"app":"shop"}`, "apps.destroy": `{"app":"shop"}`}, Stdout: "-----> Destroying shop (including all add-ons)\n"},
		{Name: "destroy confirmed", Args: []string{"apps:destroy", "shop"}, Stdin: "shop\n", Replies: shop, Ops: []string{"apps.info", "apps.destroy"},
			Stdout: "-----> Destroying shop (including all add-ons)\n", Stderr: prompt},
		{Name: "destroy refused: nothing printed before the refusal", Args: []string{"apps:destroy", "shop", "--force"},
			Replies: map[string]reply{"apps.info": {}, "apps.destroy": {Err: &api.Error{Code: api.CodeForbidden, Message: "key dev may not use apps:destroy"}}},
			Code:    1, Ops: []string{"apps.info", "apps.destroy"}, ErrLine: "key dev may not use apps:destroy"},
		{Name: "destroy confirmation mismatch", Args: []string{"apps:destroy", "shop"}, Stdin: "shoe\n", Replies: shop, Code: 1, Ops: []string{"apps.info"},
			Stderr: prompt + " !     Confirmation did not match shop. Aborted.\n"},
		{Name: "destroy no confirmation", Args: []string{"apps:destroy", "shop"}, Replies: shop, Code: 1, Ops: []string{"apps.info"},
			Stderr: prompt + " !     Confirmation did not match shop. Aborted.\n"},
		{Name: "destroy missing app asks nothing", Args: []string{"apps:destroy", "gone"}, Replies: map[string]reply{"apps.info": {Err: api.AppNotFound("gone")}},
			Code: 20, Ops: []string{"apps.info"}, ErrLine: "App gone does not exist"},
		{Args: []string{"apps:destroy", "shop", "extra", "--force"}, Code: 1, ErrLine: "Unexpected argument(s): extra"},

		// apps:exists
		{Args: []string{"apps:exists", "shop"}, Replies: info(api.AppInfo{Name: "shop"}), Ops: []string{"apps.info"}, Reqs: map[string]string{"apps.info": `{"app":"shop"}`}},
		{Args: []string{"apps:exists", "gone"}, Replies: map[string]reply{"apps.info": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"apps.info"}, ErrLine: "App gone does not exist"},

		// apps:rename and apps:clone
		{Args: []string{"apps:rename", "old", "new"}, Replies: map[string]reply{"apps.info": {}, "apps.rename": {Stdout: "-----> Deploying new\n"}},
			Ops: []string{"apps.info", "apps.rename"}, Reqs: map[string]string{"apps.info": `{"app":"old"}`, "apps.rename": `{"from":"old","to":"new"}`},
			Stdout: "-----> Renaming old to new\n-----> Deploying new\n"},
		{Args: []string{"apps:rename", "--skip-deploy", "old", "new"}, Replies: map[string]reply{"apps.info": {}, "apps.rename": {}},
			Ops: []string{"apps.info", "apps.rename"}, Reqs: map[string]string{"apps.rename": `{"from":"old","to":"new","skip_deploy":true}`}, Stdout: "-----> Renaming old to new\n"},
		{Args: []string{"apps:rename", "old"}, Code: 1, ErrLine: "Please specify a new app name"},
		{Args: []string{"apps:rename", "old", "new", "newer"}, Code: 1, ErrLine: "Unexpected argument(s): newer"},
		{Name: "rename missing app", Args: []string{"apps:rename", "old", "new"}, Replies: map[string]reply{"apps.info": {Err: api.AppNotFound("old")}},
			Code: 20, Ops: []string{"apps.info"}, ErrLine: "App old does not exist"},
		{Args: []string{"apps:clone", "old", "new", "--skip-deploy", "--ignore-existing"}, Replies: map[string]reply{"apps.info": {}, "apps.clone": {}},
			Ops: []string{"apps.info", "apps.clone"}, Reqs: map[string]string{"apps.clone": `{"from":"old","to":"new","skip_deploy":true,"ignore_existing":true}`},
			Stdout: "-----> Cloning old to new\n"},
		{Args: []string{"apps:clone", "old"}, Code: 1, ErrLine: "Please specify a new app name"},
		{Name: "clone onto a taken name", Args: []string{"apps:clone", "old", "new"}, Replies: map[string]reply{"apps.info": {}, "apps.clone": {Err: api.Errorf(api.CodeConflict, "Name is already taken")}},
			Code: 1, Ops: []string{"apps.info", "apps.clone"}, Stdout: "-----> Cloning old to new\n", ErrLine: "Name is already taken"},

		// locks
		{Args: []string{"apps:lock", "shop"}, Replies: map[string]reply{"apps.lock": {}}, Ops: []string{"apps.lock"}, Reqs: map[string]string{"apps.lock": `{"app":"shop"}`}, Stdout: "-----> Deploy lock created\n"},
		{Name: "unlock locked", Args: []string{"apps:unlock", "shop"}, Replies: map[string]reply{"apps.unlock": {Resp: api.LockResult{WasLocked: true}}}, Ops: []string{"apps.unlock"},
			Stdout: "-----> Deploy lock removed\n", Stderr: " !     A deploy may be in progress.\n !     Removing the app lock will not stop in progress deploys.\n"},
		{Name: "unlock unlocked", Args: []string{"apps:unlock", "shop"}, Replies: map[string]reply{"apps.unlock": {Resp: api.LockResult{}}}, Ops: []string{"apps.unlock"},
			Stdout: "-----> Deploy lock removed\n"},
		{Name: "locked yes", Args: []string{"apps:locked", "shop"}, Replies: info(api.AppInfo{Name: "shop", Locked: true}), Ops: []string{"apps.info"}, Stdout: "Deploy lock exists\n"},
		{Name: "locked yes quiet", Args: []string{"apps:locked", "shop", "--quiet"}, Replies: info(api.AppInfo{Name: "shop", Locked: true}), Ops: []string{"apps.info"}},
		{Name: "locked no", Args: []string{"apps:locked", "shop"}, Replies: info(api.AppInfo{Name: "shop"}), Code: 1, Ops: []string{"apps.info"}, ErrLine: "Deploy lock does not exist"},
	})
}

func TestAppsReport(t *testing.T) {
	t.Parallel()
	shop := api.AppInfo{Name: "shop", CreatedAt: time.Unix(1700000000, 0), Dir: "/var/lib/berth/apps/shop", DeploySource: "git", DeploySourceMetadata: "main", Locked: true}
	props := reply{Resp: api.PropertyValues{Fields: []api.ReportField{
		{Key: "deploy-source", Value: "git"}, {Key: "deploy-source-metadata", Value: "main"}, {Key: "global-disable-autocreation", Value: ""}}}}
	one := map[string]reply{"apps.info": {Resp: shop}, "properties.report": props}
	both := []string{"apps.info", "properties.report"}
	report := "=====> shop app information\n" +
		"       App created at:                  1700000000\n" +
		"       App deploy source:               git\n" +
		"       App deploy source metadata:      main\n" +
		"       App dir:                         /var/lib/berth/apps/shop\n" +
		"       App global disable autocreation: \n" +
		"       App locked:                      true\n"
	runCases(t, []cliCase{
		{Args: []string{"apps:report", "shop"}, Replies: one, Ops: both, Reqs: map[string]string{"apps.info": `{"app":"shop"}`, "properties.report": `{"app":"shop","namespace":"apps"}`}, Stdout: report},
		{Args: []string{"apps:report", "shop", "--app-locked"}, Replies: one, Ops: both, Stdout: "true\n"},
		{Args: []string{"apps:report", "shop", "--app-created-at"}, Replies: one, Ops: both, Stdout: "1700000000\n"},
		{Args: []string{"apps:report", "--app-dir", "shop"}, Replies: one, Ops: both, Stdout: "/var/lib/berth/apps/shop\n"},
		{Args: []string{"apps:report", "shop", "--app-nope"}, Replies: one, Code: 1, Ops: both,
			ErrLine: "Invalid flag passed, valid flags: --app-created-at, --app-deploy-source, --app-deploy-source-metadata, --app-dir, --app-global-disable-autocreation, --app-locked"},
		{Args: []string{"apps:report", "shop", "--format", "json"}, Replies: one, Ops: both,
			Stdout: `{"app-created-at":"1700000000","app-deploy-source":"git","app-deploy-source-metadata":"main","app-dir":"/var/lib/berth/apps/shop","app-global-disable-autocreation":"","app-locked":"true",` +
				`"created-at":"1700000000","deploy-source":"git","deploy-source-metadata":"main","dir":"/var/lib/berth/apps/shop","global-disable-autocreation":"","locked":"true"}` + "\n"},
		{Args: []string{"apps:report", "shop", "--format", "json", "--app-locked"}, Replies: one, Code: 1, Ops: both,
			ErrLine: "--format flag cannot be specified when specifying an info flag"},
		{Args: []string{"apps:report", "shop", "--format", "yaml"}, Replies: one, Code: 1, ErrLine: "Invalid format: yaml; use stdout or json"},
		{Args: []string{"apps:report", "shop", "--app-locked", "--app-dir"}, Code: 1, ErrLine: "Only one info flag may be given; got --app-locked and --app-dir"},
		{Args: []string{"apps:report", "gone"}, Replies: map[string]reply{"apps.info": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"apps.info"}, ErrLine: "App gone does not exist"},
		{Name: "every app", Args: []string{"apps:report", "--app-locked"}, Replies: map[string]reply{"apps.list": {Resp: api.AppList{Apps: []api.AppInfo{{Name: "a", Locked: true}, {Name: "b"}}}}, "properties.report": props},
			Ops: []string{"apps.list", "properties.report", "properties.report"}, Stdout: "true\nfalse\n"},
		{Name: "every app none", Args: []string{"apps:report"}, Replies: map[string]reply{"apps.list": {Resp: api.AppList{}}},
			Ops: []string{"apps.list"}, Stderr: " !     You haven't deployed any applications yet\n"},
		{Name: "global", Args: []string{"apps:report", "--global", "--app-global-disable-autocreation"},
			Replies: map[string]reply{"properties.report": {Resp: api.PropertyValues{Fields: []api.ReportField{{Key: "global-disable-autocreation", Value: "true"}}}}},
			Ops:     []string{"properties.report"}, Reqs: map[string]string{"properties.report": `{"global":true,"namespace":"apps"}`}, Stdout: "true\n"},
		{Name: "report quiet keeps details", Args: []string{"apps:report", "shop", "--quiet"}, Replies: one, Ops: both,
			Has: []string{"       App locked:                      true\n"}},
	})
}

// TestPropertySetters: NAMESPACE:set sends its namespace, an app or the
// global scope, and a clear when no value (or an empty one) is given.
func TestPropertySetters(t *testing.T) {
	t.Parallel()
	set := map[string]reply{"properties.set": {}}
	var cases []cliCase
	for _, ns := range []string{"apps", "ps", "checks", "releases", "letsencrypt", "builder-dockerfile", "app-json"} {
		cases = append(cases,
			cliCase{Args: []string{ns + ":set", "shop", "some-key", "v 1"}, Replies: set, Ops: []string{"properties.set"},
				Reqs:   map[string]string{"properties.set": `{"app":"shop","namespace":"` + ns + `","key":"some-key","value":"v 1"}`},
				Stdout: "=====> Setting some-key to v 1\n"},
			cliCase{Args: []string{ns + ":set", "--global", "some-key"}, Replies: set, Ops: []string{"properties.set"},
				Reqs:   map[string]string{"properties.set": `{"global":true,"namespace":"` + ns + `","key":"some-key","unset":true}`},
				Stdout: "=====> Unsetting some-key\n"},
		)
	}
	cases = append(cases,
		cliCase{Name: "empty value clears", Args: []string{"ps:set", "shop", "restart-policy", ""}, Replies: set, Ops: []string{"properties.set"},
			Reqs: map[string]string{"properties.set": `{"app":"shop","namespace":"ps","key":"restart-policy","unset":true}`}, Stdout: "=====> Unsetting restart-policy\n"},
		cliCase{Args: []string{"ps:set", "shop"}, Code: 1, ErrLine: "No property specified; see `berth help ps:set`"},
		cliCase{Args: []string{"ps:set", "shop", "a", "b", "c"}, Code: 1, ErrLine: "Unexpected argument(s): c"},
		cliCase{Args: []string{"ps:set", "--global", "--app", "shop", "a"}, Code: 1, ErrLine: "Specify either an app or --global, not both"},
		cliCase{Name: "daemon refuses the key", Args: []string{"ps:set", "shop", "nope", "1"}, Replies: map[string]reply{"properties.set": {Err: api.Errorf(api.CodeInvalid, "Invalid key nope for ps")}},
			Code: 1, Ops: []string{"properties.set"}, ErrLine: "Invalid key nope for ps"},
		cliCase{Name: "set on a missing app", Args: []string{"ps:set", "gone", "k", "1"}, Replies: map[string]reply{"properties.set": {Err: api.AppNotFound("gone")}},
			Code: 20, Ops: []string{"properties.set"}, ErrLine: "App gone does not exist"},
	)
	runCases(t, cases)
}
