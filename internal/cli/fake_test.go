package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/cli/clitest"
)

// The fake daemon and the table-driven cases are clitest's, shared with
// the packages that register commands in this table.
type (
	reply   = clitest.Reply
	cliCase = clitest.Case
	result  = clitest.Result
)

var (
	newFake      = clitest.NewFake
	checkErrLine = clitest.CheckErrLine
)

// runCLI runs `berth ARGS...` against fake with stdin and no terminal.
func runCLI(fake *clitest.Fake, stdin string, args ...string) result {
	return runEnv(fake, Env{Stdin: strings.NewReader(stdin)}, args...)
}

// runEnv runs `berth ARGS...` with env, filling in the streams, the fake
// caller and an empty environment.
func runEnv(fake *clitest.Fake, env Env, args ...string) result {
	var out, errb bytes.Buffer
	env.Stdout, env.Stderr = &out, &errb
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if fake != nil {
		env.Caller = fake
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	code := Main(context.Background(), append([]string{"berth"}, args...), env)
	return result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// runCases runs each case as a parallel subtest.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	clitest.RunCases(t, runCLI, cases)
}
