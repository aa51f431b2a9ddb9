package sshserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// noShellMessage is sent to clients that ask for a shell or a subsystem.
const noShellMessage = "Berth does not give shells; run a command: ssh berth@host help"

// Session channel request types (RFC 4254 and OpenSSH extensions).
const (
	reqPTY          = "pty-req"
	reqWindowChange = "window-change"
	reqExec         = "exec"
	reqShell        = "shell"
	reqSubsystem    = "subsystem"
	reqEnv          = "env"
	reqX11          = "x11-req"
	reqAgent        = "auth-agent-req@openssh.com"
)

// handleSessionChannel replaces gliderlabs' session handling, which accepts
// agent forwarding, stores env requests and blocks its request loop on
// window changes the handler does not read.
func (s *Server) handleSessionChannel(_ *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, connCtx ssh.Context) {
	var keyName string
	if conn.Permissions != nil {
		keyName = conn.Permissions.Extensions[extKeyName]
	}
	if keyName == "" {
		// Cannot happen: authentication always sets it.
		newChan.Reject(gossh.Prohibited, "not authenticated")
		return
	}
	if s.isClosing() {
		newChan.Reject(gossh.ResourceShortage, "server is shutting down")
		return
	}
	ch, reqs, err := newChan.Accept()
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(connCtx)
	defer cancel()

	var (
		pty     *PTY
		resize  chan [2]uint
		started bool
		cmdDone = make(chan struct{})
		launch  func() // set by start, run after the request's reply
	)
	start := func(kind, command string) bool {
		if started || !s.beginCommand() {
			return false
		}
		started = true
		sess := &Session{
			User:       conn.User(),
			KeyName:    keyName,
			Command:    command,
			Stdin:      channelReader{ch},
			Stdout:     channelWriter{ch},
			Stderr:     channelWriter{ch.Stderr()},
			PTY:        pty,
			RemoteAddr: conn.RemoteAddr(),
		}
		if pty != nil {
			// One terminal stream: stderr is not a separate stream.
			sess.Stderr = sess.Stdout
			sess.Resize = resize
		}
		launch = func() {
			go func() {
				defer close(cmdDone)
				s.runCommand(ctx, connCtx, ch, sess, kind)
			}()
		}
		return true
	}

	for req := range reqs {
		ok := false
		switch req.Type {
		case reqPTY:
			if started || pty != nil {
				break
			}
			var p struct {
				Term                        string
				Columns, Rows, WidthPx, HPx uint32
				Modes                       string
			}
			if gossh.Unmarshal(req.Payload, &p) != nil {
				break
			}
			pty = &PTY{Term: p.Term, Height: uint(p.Rows), Width: uint(p.Columns)}
			resize = make(chan [2]uint, 1)
			ok = true
		case reqWindowChange:
			var w struct{ Columns, Rows, WidthPx, HPx uint32 }
			if pty == nil || gossh.Unmarshal(req.Payload, &w) != nil {
				break
			}
			// This loop is the only sender: after draining a stale size the
			// send cannot block, so a handler that ignores Resize never
			// stalls the connection.
			select {
			case <-resize:
			default:
			}
			resize <- [2]uint{uint(w.Rows), uint(w.Columns)}
			ok = true
		case reqExec:
			var p struct{ Command string }
			if gossh.Unmarshal(req.Payload, &p) != nil {
				break
			}
			ok = start("exec", p.Command)
		case reqShell:
			ok = start("shell", "")
		case reqSubsystem:
			var p struct{ Name string }
			gossh.Unmarshal(req.Payload, &p)
			ok = start("subsystem", p.Name)
		case reqEnv:
			// Ignored: no environment passing.
		case reqAgent, reqX11:
			s.log.Debug("ssh session request refused", "remote", conn.RemoteAddr().String(),
				"user", conn.User(), "key", keyName, "type", req.Type)
		default:
			// signal, break, eow@openssh.com, ...: refused.
		}
		if req.WantReply {
			req.Reply(ok, nil)
		}
		if launch != nil {
			// After the reply, so that a quick command's exit status and
			// channel close cannot overtake it.
			launch()
			launch = nil
		}
	}
	// The client closed the channel, or the connection is gone.
	cancel()
	if resize != nil {
		close(resize)
	}
	if started {
		// The session counts as running (for Shutdown) until the command
		// is done and the client has answered the channel close: closing
		// the TCP connection while the client's last messages are unread
		// makes the kernel send a reset, and the client may lose the exit
		// status.
		<-cmdDone
		s.running.Done()
	}
}

// runCommand runs one exec (or refuses a shell or subsystem), then sends the
// exit status and closes the channel.
func (s *Server) runCommand(ctx, connCtx context.Context, ch gossh.Channel, sess *Session, kind string) {
	begin := time.Now()
	var status int
	switch kind {
	case "exec":
		status = s.callHandler(ctx, sess)
	default:
		eol := "\n"
		if sess.PTY != nil {
			eol = "\r\n"
		}
		io.WriteString(sess.Stderr, noShellMessage+eol)
		status = 1
	}
	if status < 0 || status > 255 {
		status = 1
	}

	// gliderlabs cancels the connection's context as soon as a read or
	// write fails (idle timeout, reset), while the ssh connection may not be
	// torn down yet: a handler returning quickly on ctx.Done() could still
	// report a status, typically 0. Report none for a lost connection.
	lost := connCtx.Err() != nil
	if !lost {
		ch.CloseWrite()
		ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{uint32(status)}))
	}
	ch.Close()

	attrs := []any{
		"remote", addrString(sess.RemoteAddr),
		"user", sess.User,
		"key", sess.KeyName,
	}
	switch kind {
	case "exec":
		attrs = append(attrs, "cmd", firstWord(sess.Command))
	case "subsystem":
		attrs = append(attrs, "refused", "subsystem", "subsystem", firstWord(sess.Command))
	default:
		attrs = append(attrs, "refused", kind)
	}
	if sess.PTY != nil {
		attrs = append(attrs, "pty", true)
	}
	attrs = append(attrs, "status", status)
	if lost {
		attrs = append(attrs, "disconnected", true)
	}
	attrs = append(attrs, "duration", time.Since(begin).Round(time.Millisecond))
	s.log.Info("ssh session", attrs...)
}

// callHandler runs the Handler, turning a panic into exit status 1.
func (s *Server) callHandler(ctx context.Context, sess *Session) (status int) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("ssh handler panicked", "remote", addrString(sess.RemoteAddr),
				"user", sess.User, "key", sess.KeyName, "cmd", firstWord(sess.Command),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			eol := "\n"
			if sess.PTY != nil {
				eol = "\r\n"
			}
			io.WriteString(sess.Stderr, "berth: internal error"+eol)
			status = 1
		}
	}()
	return s.cfg.Handler(ctx, sess)
}

// firstWord returns the command name for logs: never the arguments, which
// may hold secrets (config:set KEY=value).
func firstWord(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return ""
	}
	w := f[0]
	const max = 64
	if len(w) > max {
		i := max
		for i > 0 && !utf8.RuneStart(w[i]) {
			i--
		}
		w = w[:i] + "…"
	}
	return w
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// channelReader and channelWriter hide the ssh channel behind the plain io
// interfaces, so a handler cannot close it or send requests on it.
type channelReader struct{ r io.Reader }

func (c channelReader) Read(p []byte) (int, error) { return c.r.Read(p) }

type channelWriter struct{ w io.Writer }

func (c channelWriter) Write(p []byte) (int, error) { return c.w.Write(p) }
