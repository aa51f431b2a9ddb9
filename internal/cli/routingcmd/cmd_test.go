package routingcmd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/cli"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// The harness is clitest's; these run the whole command table (cli's and
// this package's commands, registered at init) as the binary does.
type (
	reply   = clitest.Reply
	cliCase = clitest.Case
)

func sp(n int) string { return strings.Repeat(" ", n) }

// runCLI runs `berth ARGS...` against fake with stdin and no terminal.
func runCLI(fake *clitest.Fake, stdin string, args ...string) clitest.Result {
	return runEnv(fake, cli.Env{Stdin: strings.NewReader(stdin)}, args...)
}

// runEnv runs `berth ARGS...` with env, filling in the streams, the fake
// caller and an empty environment.
func runEnv(fake *clitest.Fake, env cli.Env, args ...string) clitest.Result {
	var out, errb bytes.Buffer
	env.Stdout, env.Stderr = &out, &errb
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	env.Caller = fake
	env.Getenv = func(string) string { return "" }
	code := cli.Main(context.Background(), append([]string{"berth"}, args...), env)
	return clitest.Result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// runCases runs each case as a parallel subtest.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	clitest.RunCases(t, runCLI, cases)
}
