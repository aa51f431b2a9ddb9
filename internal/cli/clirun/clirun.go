// Package clirun runs Berth's command table over a fake daemon, for the
// tests of the command packages (cli/*cmd): one copy of what each of
// them wrote. It is not in clitest, which cli's own tests use and which
// therefore cannot import cli.
package clirun

import (
	"bytes"
	"context"
	"strings"

	"github.com/berthpaas/berth/internal/cli"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// Run runs `berth ARGS...` with stdin against fake, with an empty
// environment, and returns the exit code and output.
func Run(fake *clitest.Fake, stdin string, args ...string) clitest.Result {
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Caller: fake, Getenv: func(string) string { return "" }}
	code := cli.Main(context.Background(), append([]string{"berth"}, args...), env)
	return clitest.Result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}
