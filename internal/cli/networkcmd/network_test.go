package networkcmd

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

type (
	reply   = clitest.Reply
	cliCase = clitest.Case
)

// runCLI runs the command table over fake (package clirun).
var runCLI = clirun.Run

func TestNetworkCommands(t *testing.T) {
	t.Parallel()
	empty := map[string]reply{"network.create": {Resp: api.Empty{}}, "network.set": {Resp: api.Empty{}}, "network.info": {Resp: api.NetworkInfo{Name: "shared"}}, "network.destroy": {Resp: api.Empty{}}}
	list := map[string]reply{"network.list": {Resp: api.NetworkList{Networks: []api.NetworkInfo{{Name: "bridge"}, {Name: "shared", DokkuManaged: true}}}}}
	report := map[string]reply{"network.report": {Resp: api.NetworkReport{App: map[string]string{}, Global: map[string]string{"tld": "svc.local"}, Computed: map[string]string{"tld": "svc.local", "bind-all-interfaces": "false"}}}}
	clitest.RunCases(t, runCLI, []cliCase{
		{Args: []string{"network:create", "shared"}, Replies: empty, Ops: []string{"network.create"}, Reqs: map[string]string{"network.create": `{"name":"shared"}`}},
		{Args: []string{"network:create"}, Code: 1, ErrLine: "No network name specified"},
		{Name: "set several", Args: []string{"network:set", "shop", "attach-post-create", "one", "two"}, Replies: empty, Ops: []string{"network.set"},
			Reqs: map[string]string{"network.set": `{"app":"shop","key":"attach-post-create","values":["one","two"]}`}, Stdout: "=====> Setting attach-post-create to one two\n"},
		{Name: "clear global", Args: []string{"network:set", "--global", "tld"}, Replies: empty, Ops: []string{"network.set"},
			Reqs: map[string]string{"network.set": `{"global":true,"key":"tld"}`}, Stdout: "=====> Unsetting tld\n"},
		{Name: "destroy, not confirmed", Args: []string{"network:destroy", "shared"}, Replies: empty, Ops: []string{"network.info"}, Code: 1,
			Stderr: " !     WARNING: Potentially Destructive Action\n !     This command will destroy network shared.\n !     To proceed, type \"shared\"\n\n>  !     Confirmation did not match shared. Aborted.\n"},
		{Name: "destroy --force", Args: []string{"network:destroy", "shared", "--force"}, Replies: empty, Ops: []string{"network.info", "network.destroy"}},
		{Name: "list", Args: []string{"network:list"}, Replies: list, Ops: []string{"network.list"}, Stdout: "=====> Networks\nbridge\nshared\n"},
		{Name: "list Berth's", Args: []string{"network:list", "--dokku-managed"}, Replies: list, Ops: []string{"network.list"}, Stdout: "=====> Networks\nshared\n"},
		{Name: "global report flag", Args: []string{"network:report", "--global", "--network-computed-tld"}, Replies: report, Ops: []string{"network.report"},
			Reqs: map[string]string{"network.report": `{"global":true}`}, Stdout: "svc.local\n"},
		{Name: "info text", Args: []string{"network:info", "shared", "--format", "yaml"}, Code: 1, ErrLine: "Invalid format specified, use either text or json"},
	})
}
