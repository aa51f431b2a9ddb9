package cli

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"

	"github.com/berthpaas/berth/internal/api"
)

// RunRemote runs a command line that arrived over ssh: the ssh front doors
// (package gitserver) call it with a caller that checks the key's access.
// It is an api.CommandRunner.
func RunRemote(ctx context.Context, args []string, env api.RemoteEnv) int {
	e := Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr, Prog: env.Prog, Caller: env.Caller, Remote: true,
		Getenv: func(string) string { return "" }}
	if env.PTY != nil {
		// The built-in ssh server has no kernel pty: do its output
		// processing here, so Berth's own lines end in CRLF on the
		// client's raw terminal (no "staircase"), and stop while a
		// command holds the terminal raw (run, enter, connect).
		raw := new(atomic.Bool)
		e.Stdout, e.Stderr = onlcrWriter{w: env.Stdout, raw: raw}, onlcrWriter{w: env.Stderr, raw: raw}
		e.Terminal = ptyTerminal{pty: env.PTY, raw: raw}
	}
	return Main(ctx, append([]string{env.Prog}, args...), e)
}

// ptyTerminal is the terminal of a remote session. The client's own
// terminal is already raw; MakeRaw turns off the newline translation that
// onlcrWriter does in cooked mode, as a kernel pty's would be.
type ptyTerminal struct {
	pty *api.RemotePTY
	raw *atomic.Bool
}

func (t ptyTerminal) MakeRaw() (func(), error) {
	was := t.raw.Swap(true)
	return func() { t.raw.Store(was) }, nil
}

// onlcrWriter writes \n as \r\n unless the terminal is raw: a pty's ONLCR.
type onlcrWriter struct {
	w   io.Writer
	raw *atomic.Bool
}

func (o onlcrWriter) Write(p []byte) (int, error) {
	if o.raw.Load() || !bytes.Contains(p, []byte{'\n'}) {
		return o.w.Write(p)
	}
	if _, err := o.w.Write(bytes.ReplaceAll(p, []byte{'\n'}, []byte{'\r', '\n'})); err != nil {
		return 0, err
	}
	return len(p), nil
}
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
