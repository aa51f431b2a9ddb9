package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// Terminal is the user's terminal, when there is one: interactive commands
// (run, enter) use it for raw mode and window sizes.
type Terminal interface {
	// MakeRaw puts the terminal in raw mode and returns how to restore it.
	MakeRaw() (restore func(), err error)
	// Size returns the height and width.
	Size() (height, width uint, err error)
	// Resizes delivers the new size each time the window changes, until ctx ends.
	Resizes(ctx context.Context) <-chan [2]uint
}

// OSTerminal returns the process's terminal on stdin, or nil when stdin or
// stdout is not a terminal.
func OSTerminal() Terminal {
	in, out := int(os.Stdin.Fd()), int(os.Stdout.Fd())
	if !term.IsTerminal(in) || !term.IsTerminal(out) {
		return nil
	}
	return osTerminal{in: in, out: out}
}

type osTerminal struct{ in, out int }

func (t osTerminal) MakeRaw() (func(), error) {
	st, err := term.MakeRaw(t.in)
	if err != nil {
		return nil, err
	}
	return func() { term.Restore(t.in, st) }, nil
}

func (t osTerminal) Size() (uint, uint, error) {
	w, h, err := term.GetSize(t.out)
	return uint(h), uint(w), err
}

func (t osTerminal) Resizes(ctx context.Context) <-chan [2]uint {
	ch := make(chan [2]uint, 1)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	send := func() {
		if h, w, err := t.Size(); err == nil {
			select {
			case ch <- [2]uint{h, w}:
			default:
			}
		}
	}
	send()
	go func() {
		defer signal.Stop(sig)
		defer close(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				send()
			}
		}
	}()
	return ch
}
