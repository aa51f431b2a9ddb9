package cli

import (
	"context"

	"github.com/berthpaas/berth/internal/daemon"
)

// RunRemote runs a command line that arrived over ssh: the daemon calls it
// with a caller that checks the key's access.
func RunRemote(ctx context.Context, args []string, env daemon.RemoteEnv) int {
	e := Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr, Prog: env.Prog, Caller: env.Caller, Remote: true,
		Getenv: func(string) string { return "" }}
	if env.PTY != nil {
		e.Terminal = ptyTerminal{pty: env.PTY}
	}
	return Main(ctx, append([]string{env.Prog}, args...), e)
}

// ptyTerminal is the terminal of a remote session: the client's own
// terminal is already raw, so MakeRaw does nothing.
type ptyTerminal struct{ pty *daemon.RemotePTY }

func (t ptyTerminal) MakeRaw() (func(), error)  { return func() {}, nil }
func (t ptyTerminal) Size() (uint, uint, error) { return t.pty.Height, t.pty.Width, nil }

func (t ptyTerminal) Resizes(ctx context.Context) <-chan [2]uint {
	ch := make(chan [2]uint, 1)
	ch <- [2]uint{t.pty.Height, t.pty.Width}
	go func() {
		defer close(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case sz, ok := <-t.pty.Resize:
				if !ok {
					return
				}
				select {
				case ch <- sz:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch
}
