package docker

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Attachment is a connection to a container's stdio, from [Client.Attach].
//
// Writes go to the container's stdin; CloseWrite signals end of input.
// Reads return the container's output until it exits: raw bytes for a TTY
// container, otherwise the engine's multiplexed stream, to split with
// [Client.Demux]. Close releases the connection (it does not stop the
// container).
type Attachment interface {
	io.Reader
	io.Writer
	CloseWrite() error
	Close() error
}

// ttyEOF is the terminal's end-of-file character (Ctrl-D, VEOF).
const ttyEOF = "\x04"

// attachment implements Attachment over a hijacked connection.
type attachment struct {
	resp      client.HijackedResponse
	in        ttyInput
	closeOnce sync.Once
}

func (a *attachment) Read(p []byte) (int, error) { return a.resp.Reader.Read(p) }

func (a *attachment) Write(p []byte) (int, error) { return a.in.Write(p) }

// CloseWrite ends the container's input. Without a TTY it half-closes the
// connection, and the engine closes the container's stdin: the process
// reads EOF. With a TTY, closing the connection's input would not reach
// the process (the engine would only stop copying, and end the output
// stream early), so CloseWrite instead types the terminal's end-of-file
// character (Ctrl-D) as a person would: once at the start of a line, twice
// after a partial line (the first Ctrl-D only submits the partial line).
// The connection stays open for output until the container exits or Close
// is called.
func (a *attachment) CloseWrite() error {
	if a.in.tty {
		return a.in.sendEOF()
	}
	return a.resp.CloseWrite()
}

func (a *attachment) Close() error {
	a.closeOnce.Do(a.resp.Close)
	return nil
}

// ttyInput writes a process's input, remembering whether the last byte
// ended a line so that sendEOF can type end-of-file on a terminal.
type ttyInput struct {
	w       io.Writer
	tty     bool
	mu      sync.Mutex
	partial bool // the last byte written was not a newline
}

func (t *ttyInput) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, err := t.w.Write(p)
	if n > 0 {
		last := p[n-1]
		t.partial = last != '\n' && last != '\r' && last != ttyEOF[0]
	}
	return n, err
}

// sendEOF types end of file if the input is a terminal; otherwise it does
// nothing.
func (t *ttyInput) sendEOF() error {
	if !t.tty {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	eof := ttyEOF
	if t.partial {
		eof += ttyEOF
	}
	t.partial = false
	_, err := io.WriteString(t.w, eof)
	return err
}

// Attach attaches to a created (not yet started) container's stdio; returns a stream to write stdin to (CloseWrite sends EOF) and read output from; with TTY the output is raw, otherwise it must be demultiplexed — provide a helper so callers get stdout/stderr separately.
//
// tty must match the container's ContainerSpec.TTY; stdin only reaches the
// container if it was created with OpenStdin. Attach before starting the
// container so that no output is missed: the stream carries only output
// produced after attaching. The stream ends (Read returns io.EOF) when the
// container exits. With a TTY the terminal echoes input back and turns
// "\n" into "\r\n" in output, as any terminal does; use
// [Client.ResizeTTY] to set its size after starting the container.
// Cancelling ctx only aborts the attach handshake; call Close to drop an
// established attachment. A missing container gives an error matching
// [ErrNotFound].
func (c *Client) Attach(ctx context.Context, id string, tty bool) (Attachment, error) {
	res, err := c.api.ContainerAttach(ctx, id, client.ContainerAttachOptions{
		Stream: true,
		Stdin:  true,
		Stdout: true,
		Stderr: true,
	})
	if err != nil {
		return nil, c.wrap(err, "attach to container %s", shortID(id))
	}
	a := &attachment{resp: res.HijackedResponse}
	a.in = ttyInput{w: a.resp.Conn, tty: tty}
	return a, nil
}

// Demux copies the engine's multiplexed stdout/stderr stream r (from
// [Client.Attach] on a container without a TTY) to stdout and stderr until
// r ends. It returns nil at the end of the stream. Either writer may be nil
// to drop that stream.
func (c *Client) Demux(r io.Reader, stdout, stderr io.Writer) error {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	_, err := stdcopy.StdCopy(stdout, stderr, r)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		return c.wrap(err, "reading container output")
	}
	return nil
}

// ResizeTTY sets the size of a running container's pseudo-terminal, in
// characters. A missing container gives an error matching [ErrNotFound].
func (c *Client) ResizeTTY(ctx context.Context, id string, height, width uint) error {
	_, err := c.api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: height, Width: width})
	return c.wrap(err, "resize container %s", shortID(id))
}

// ExecOptions configures [Client.Exec].
type ExecOptions struct {
	// Cmd is the command to run, as an argument vector.
	Cmd []string
	// Env holds KEY=VALUE entries added to the container's environment.
	Env []string
	// TTY runs the command in a pseudo-terminal; all its output then goes
	// to Stdout.
	TTY bool
	// Stdin, if not nil, is copied to the command's standard input; its
	// end (io.EOF) closes the command's input (with TTY, by typing Ctrl-D
	// as Attachment.CloseWrite does).
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; nil drops it.
	Stdout, Stderr io.Writer
	// Resize, if not nil, delivers terminal sizes as [height, width]
	// (only meaningful with TTY).
	Resize <-chan [2]uint
}

// Exec runs cmd in a running container (for `enter`), streaming stdio; returns the exit code.
//
// Exec returns when the command exits and its output has been copied. A
// goroutine copying opts.Stdin may stay blocked in Stdin.Read after that,
// until Stdin returns; cancelling ctx closes the connection and returns
// ctx's error. A missing container gives an error matching [ErrNotFound];
// a stopped one gives an engine error ("container ... is not running").
func (c *Client) Exec(ctx context.Context, id string, opts ExecOptions) (exitCode int, err error) {
	created, err := c.api.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd:          opts.Cmd,
		Env:          opts.Env,
		TTY:          opts.TTY,
		AttachStdin:  opts.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return -1, c.wrap(err, "exec in container %s", shortID(id))
	}
	att, err := c.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: opts.TTY})
	if err != nil {
		return -1, c.wrap(err, "exec in container %s", shortID(id))
	}
	conn := att.HijackedResponse
	var closeOnce sync.Once
	closeConn := func() { closeOnce.Do(conn.Close) }
	defer closeConn()
	stop := context.AfterFunc(ctx, closeConn)
	defer stop()

	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}

	if opts.Stdin != nil {
		go func() {
			in := &ttyInput{w: conn.Conn, tty: opts.TTY}
			_, err := io.Copy(in, opts.Stdin)
			if opts.TTY {
				if err == nil {
					_ = in.sendEOF()
				}
				return
			}
			_ = conn.CloseWrite()
		}()
	}

	resizeDone := make(chan struct{})
	defer close(resizeDone)
	if opts.Resize != nil {
		go func() {
			for {
				select {
				case size, ok := <-opts.Resize:
					if !ok {
						return
					}
					_, _ = c.api.ExecResize(ctx, created.ID, client.ExecResizeOptions{Height: size[0], Width: size[1]})
				case <-resizeDone:
					return
				}
			}
		}()
	}

	if opts.TTY {
		_, err = io.Copy(stdout, conn.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, conn.Reader)
	}
	if ctx.Err() != nil {
		return -1, c.wrap(ctx.Err(), "exec in container %s", shortID(id))
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return -1, c.wrap(err, "exec in container %s: reading output", shortID(id))
	}

	// The output ends as the process exits; the engine records the exit
	// code a moment later.
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		ins, err := c.api.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return -1, c.wrap(err, "exec in container %s", shortID(id))
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, c.wrap(ctx.Err(), "exec in container %s", shortID(id))
		case <-time.After(delay):
		}
	}
}
