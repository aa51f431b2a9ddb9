package cli

import "testing"

// TestGitSetRevEnvVar: git:set APP rev-env-var with no value keeps it set
// to nothing (no unset: the daemon stores an empty value, and a push sets
// no variable), as Dokku's does; other keys clear.
func TestGitSetRevEnvVar(t *testing.T) {
	t.Parallel()
	set := map[string]reply{"properties.set": {}}
	runCases(t, []cliCase{
		{Args: []string{"git:set", "shop", "rev-env-var"}, Replies: set, Ops: []string{"properties.set"},
			Reqs:   map[string]string{"properties.set": `{"app":"shop","namespace":"git","key":"rev-env-var"}`},
			Stdout: "=====> Unsetting rev-env-var\n"},
		{Args: []string{"git:set", "shop", "rev-env-var", "COMMIT_SHA"}, Replies: set, Ops: []string{"properties.set"},
			Reqs:   map[string]string{"properties.set": `{"app":"shop","namespace":"git","key":"rev-env-var","value":"COMMIT_SHA"}`},
			Stdout: "=====> Setting rev-env-var to COMMIT_SHA\n"},
		{Args: []string{"git:set", "shop", "deploy-branch"}, Replies: set, Ops: []string{"properties.set"},
			Reqs:   map[string]string{"properties.set": `{"app":"shop","namespace":"git","key":"deploy-branch","unset":true}`},
			Stdout: "=====> Unsetting deploy-branch\n"},
	})
}
