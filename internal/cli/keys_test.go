package cli

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

// ssh-keys:list NAME lists that name's keys (none: exit 1 and no line, or
// [] as JSON); --format text is stdout's other name.
func TestKeysList(t *testing.T) {
	t.Parallel()
	keys := map[string]reply{"keys.list": {Resp: api.KeyList{Keys: []api.KeyInfo{
		{Name: "admin", Fingerprint: "SHA256:aaa", Admin: true},
		{Name: "dev", Fingerprint: "SHA256:bbb", Apps: []string{"shop"}},
	}}}}
	both := "SHA256:aaa NAME=\"admin\" ACCESS=\"admin\"\nSHA256:bbb NAME=\"dev\" ACCESS=\"apps:shop\"\n"
	runCases(t, []cliCase{
		{Args: []string{"ssh-keys:list"}, Replies: keys, Ops: []string{"keys.list"}, Stdout: both},
		{Args: []string{"ssh-keys:list", "--format", "text"}, Replies: keys, Ops: []string{"keys.list"}, Stdout: both},
		{Args: []string{"ssh-keys:list", "dev"}, Replies: keys, Ops: []string{"keys.list"}, Stdout: "SHA256:bbb NAME=\"dev\" ACCESS=\"apps:shop\"\n"},
		{Name: "no key of that name: exit 1, nothing printed", Args: []string{"ssh-keys:list", "--format", "text", "nobody"}, Replies: keys, Code: 1, Ops: []string{"keys.list"}},
		{Args: []string{"ssh-keys:list", "--format", "json", "nobody"}, Replies: keys, Ops: []string{"keys.list"}, Stdout: "[]\n"},
		{Args: []string{"ssh-keys:list", "--format", "json", "admin"}, Replies: keys, Ops: []string{"keys.list"},
			Stdout: `[{"name":"admin","fingerprint":"SHA256:aaa","admin":true,"apps":null,"created_at":"0001-01-01T00:00:00Z"}]` + "\n"},
		{Args: []string{"ssh-keys:list", "--format", "yaml"}, Code: 1, ErrLine: "Invalid format: yaml; use stdout, text or json"},
		{Args: []string{"ssh-keys:list", "a", "b"}, Code: 1, ErrLine: "Unexpected argument(s): b"},
	})
}

// ssh-keys:remove of a key that is not there says so and succeeds, as
// Dokku's does (scripts remove a key before adding it again).
func TestKeysRemoveMissing(t *testing.T) {
	t.Parallel()
	runCases(t, []cliCase{
		{Args: []string{"ssh-keys:remove", "dev"}, Replies: map[string]reply{"keys.remove": {Resp: api.KeyInfo{Name: "dev", Fingerprint: "SHA256:bbb"}}}, Ops: []string{"keys.remove"},
			Reqs: map[string]string{"keys.remove": `{"name":"dev"}`}, Stdout: "-----> Removed key dev (SHA256:bbb)\n"},
		{Args: []string{"ssh-keys:remove", "gone"}, Replies: map[string]reply{"keys.remove": {Err: api.Errorf(api.CodeNotFound, "No ssh key gone; see ssh-keys:list")}}, Ops: []string{"keys.remove"},
			Stderr: " !     No ssh key gone; nothing to remove\n"},
		{Args: []string{"ssh-keys:remove"}, Replies: map[string]reply{"keys.remove": {Err: api.Errorf(api.CodeInvalid, "Please specify a key name or --fingerprint FP")}}, Ops: []string{"keys.remove"},
			Code: 1, ErrLine: "Please specify a key name or --fingerprint FP"},
	})
}
