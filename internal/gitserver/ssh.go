package gitserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/sshserver"
	"github.com/berthpaas/berth/internal/store"
)

// keyAuth authenticates ssh keys against the registered ones.
type keyAuth struct{ store *store.Store }

func (a keyAuth) Authenticate(ctx context.Context, key gossh.PublicKey) (string, bool) {
	var k store.Key
	err := a.store.Tx(ctx, func(tx *store.Tx) (err error) {
		k, err = tx.KeyByFingerprint(gossh.FingerprintSHA256(key))
		return err
	})
	return k.Name, err == nil
}

// ServeSSH starts the built-in ssh server on addr ("" or "off": none)
// with its host key at hostKey; the caller shuts it down.
func (s *Server) ServeSSH(addr, hostKey string) (*sshserver.Server, error) {
	if addr == "" || addr == "off" {
		return nil, nil
	}
	srv, err := sshserver.New(sshserver.Config{
		HostKeyPath: hostKey,
		Auth:        keyAuth{store: s.store},
		Log:         s.log,
		Handler: func(ctx context.Context, sess *sshserver.Session) int {
			var pty *api.RemotePTY
			if sess.PTY != nil {
				pty = &api.RemotePTY{Height: sess.PTY.Height, Width: sess.PTY.Width, Resize: sess.Resize}
			}
			return s.RunRemote(ctx, sess.KeyName, sess.User, sess.Command, &api.Session{Stdin: sess.Stdin, Stdout: sess.Stdout, Stderr: sess.Stderr}, pty)
		},
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh server: listen on %s: %w (set BERTH_SSH_ADDR, or off)", addr, err)
	}
	s.sshAddr = ln.Addr().String()
	go func() {
		if err := srv.Serve(ln); err != nil {
			s.log.Error("ssh server stopped", "err", err)
		}
	}()
	s.log.Info("ssh server listening", "addr", s.sshAddr, "host_key", srv.HostKeyFingerprint())
	return srv, nil
}

// ServeGateway listens on the socket OpenSSH's forced commands use. It only
// serves ssh.command, as the key the forced command names; its mode is 0660
// with the group of the berth and dokku system users.
func (s *Server) ServeGateway(path, group string) (interface{ Close() error }, error) {
	// No error mapper: the commands a session runs go through the daemon's
	// mux (keyCaller), which maps their errors.
	m := api.NewMux(s.log, nil)
	api.HandleSession(m, api.SSHCommand, func(ctx context.Context, req api.SSHSession, sess *api.Session) (api.ExitStatus, error) {
		var pty *api.RemotePTY
		if req.TTY {
			pty = &api.RemotePTY{Height: req.Height, Width: req.Width, Resize: sess.Resize}
		}
		return api.ExitStatus{Code: s.RunRemote(ctx, req.Key, req.User, req.Command, sess, pty)}, nil
	})
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on the ssh gateway socket %s: %w", path, err)
	}
	if g, err := user.LookupGroup(group); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, 0, gid); err == nil {
			os.Chmod(path, 0o660)
		}
	} else {
		s.log.Debug("ssh gateway socket stays root-only: no such group", "group", group)
	}
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return closerFunc(func() error {
		err := srv.Close()
		os.Remove(path)
		return err
	}), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
