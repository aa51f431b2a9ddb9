package previewcmd

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

func TestPreviewsCommands(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	settings := func(expire string) map[string]clitest.Reply {
		s := api.PreviewSettings{App: "shop", Enabled: true, Expire: expire}
		return map[string]clitest.Reply{"previews.enable": {Resp: s}, "previews.disable": {Resp: s}, "previews.set": {Resp: s}}
	}
	list := api.PreviewList{Previews: []api.PreviewInfo{
		{Parent: "shop", App: "shop-feature-x", Branch: "feature/x", URL: "https://feature-x.shop.example.com", Created: at, Pushed: at, Expires: at.Add(24 * time.Hour)},
		{Parent: "shop", App: "shop-y", Branch: "y", Created: at, Pushed: at},
	}}
	clitest.RunCases(t, clirun.Run, []clitest.Case{
		{Args: []string{"previews:enable", "shop"}, Replies: settings(""), Ops: []string{"previews.enable"}, Reqs: map[string]string{"previews.enable": `{"app":"shop"}`},
			Stdout: "=====> Previews enabled for shop: a push of another branch B makes the app shop-B\n"},
		{Args: []string{"previews:disable", "shop"}, Replies: settings(""), Ops: []string{"previews.disable"}, Stdout: "=====> Previews disabled for shop\n"},
		{Args: []string{"previews:enable"}, Code: 1, ErrLine: "app"},
		{Args: []string{"previews:set", "shop", "expire", "7d"}, Replies: settings("7d"), Ops: []string{"previews.set"},
			Reqs: map[string]string{"previews.set": `{"app":"shop","key":"expire","value":"7d"}`}, Stdout: "=====> Previews of shop expire 7d after their last push\n"},
		{Args: []string{"previews:set", "shop", "expire"}, Replies: settings(""), Ops: []string{"previews.set"}, Stdout: "=====> Previews of shop never expire\n"},
		{Args: []string{"previews:set", "shop"}, Code: 1, ErrLine: "No property specified"},
		{Args: []string{"previews:set", "shop", "expire", "soon"}, Replies: map[string]clitest.Reply{"previews.set": {Err: api.Errorf(api.CodeInvalid, `Invalid expire "soon"`)}},
			Ops: []string{"previews.set"}, Code: 1, ErrLine: `Invalid expire "soon"`},
		{Args: []string{"previews:list", "shop"}, Replies: map[string]clitest.Reply{"previews.list": {Resp: list}}, Ops: []string{"previews.list"},
			Has: []string{"Preview         Branch     Created               Expires               URL",
				"shop-feature-x  feature/x  2026-12-07T05:00:00Z  2026-12-08T05:00:00Z  https://feature-x.shop.example.com",
				"shop-y          y          2026-12-07T05:00:00Z  never                 -"}},
		{Args: []string{"previews:list", "shop", "--format", "json"}, Replies: map[string]clitest.Reply{"previews.list": {Resp: list}}, Ops: []string{"previews.list"},
			Has: []string{`"app":"shop-feature-x"`, `"branch":"feature/x"`}},
		{Args: []string{"previews:destroy", "shop", "feature/x"}, Replies: map[string]clitest.Reply{"previews.destroy": {Resp: api.Empty{}}}, Ops: []string{"previews.destroy"},
			Reqs: map[string]string{"previews.destroy": `{"app":"shop","branch":"feature/x"}`}},
		{Args: []string{"previews:destroy", "shop"}, Code: 1, ErrLine: "Please specify the branch"},
		{Args: []string{"previews:report", "shop", "--previews-expire"}, Replies: map[string]clitest.Reply{"previews.report": {Resp: api.PreviewReports{Reports: []api.PreviewReport{
			{PreviewSettings: api.PreviewSettings{App: "shop", Enabled: true, Expire: "7d"}, Previews: 2}}}}},
			Ops: []string{"previews.report"}, Stdout: "7d\n"},
	})
}
