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
