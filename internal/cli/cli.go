// Package cli is Berth's command table: Dokku-style `namespace:verb`
// commands, their flags and their output. The same table serves the local
// CLI (over the control socket) and, later, remote commands over ssh (with
// an in-process caller), so a command behaves the same wherever it runs.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/settings"
)

// Exit codes, as Dokku uses them.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitAppNotFound = 20
)

// Env is what a command runs with: its streams and the way to reach the
// daemon.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Prog is the name the user typed ("berth" or "dokku"), used in messages.
	Prog string
	// Caller reaches the daemon. If nil, Connect is called on first use.
	Caller api.Caller
	// Connect returns a Caller for the daemon; nil means the default
	// (the control socket from the settings in the environment).
	Connect func() (api.Caller, error)
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Terminal is the user's terminal, nil when there is none.
	Terminal Terminal
	// Remote is set for commands that arrived over ssh: local-only
	// commands (serve) are refused.
	Remote bool
	// Serve runs the daemon (berth serve) and Proxy the proxy process
	// (berth proxy) until ctx ends. cmd/berth passes them in, so the
	// command table does not link the daemon; nil: not in this binary.
	Serve, Proxy func(ctx context.Context, s settings.Settings, log *slog.Logger) error
}

// exitError carries an exit code with an optional message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exit returns an error that makes the command exit with code, printing msg
// (if not empty) as an error line.
func exit(code int, msg string) error { return &exitError{code: code, msg: msg} }

// ExitCode returns an error that makes the command exit with code and
// print nothing more: for commands that printed their own verdict (doctor).
func ExitCode(code int) error { return exit(code, "") }

// Failf returns an ordinary failure (exit 1) with a formatted message: the
// one ` !     ` line the user sees.
func Failf(format string, args ...any) error { return exit(ExitFailure, fmt.Sprintf(format, args...)) }

// Main runs the command line args (args[0] is the program) and returns the
// exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Prog == "" && len(args) > 0 {
		env.Prog = filepath.Base(args[0])
	}
	if env.Prog != "dokku" {
		env.Prog = "berth"
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	var rest []string
	if len(args) > 1 {
		rest = args[1:]
	}
	err := Run(ctx, rest, &env)
	return report(env, err)
}

// report prints err as Dokku does and returns the exit code.
func report(env Env, err error) int {
	if err == nil {
		return ExitOK
	}
	code := ExitFailure
	msg := err.Error()
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.Is(err, api.ErrAppNotFound):
		code = ExitAppNotFound
	}
	if msg != "" {
		errorLines(env.Stderr, msg)
	}
	return code
}

// errorLines writes msg to w, each line prefixed by " !     ".
func errorLines(w io.Writer, msg string) {
	for line := range strings.SplitSeq(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintf(w, " !     %s\n", line)
	}
}

// caller returns the daemon caller, connecting on first use.
func (e *Env) caller() (api.Caller, error) {
	if e.Caller != nil {
		return e.Caller, nil
	}
	if e.Connect != nil {
		c, err := e.Connect()
		if err != nil {
			return nil, err
		}
		e.Caller = c
		return c, nil
	}
	s, err := settings.Load(e.Getenv, nil)
	if errors.Is(err, fs.ErrPermission) {
		// The data dir is root-only: say what to do, not which file.
		return nil, api.Errorf(api.CodeForbidden, "%s", api.NeedRoot("the config file "+s.ConfigFile))
	}
	if err != nil {
		return nil, err
	}
	e.Caller = api.NewClient(s.Socket)
	return e.Caller, nil
}
