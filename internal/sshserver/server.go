// Package sshserver is Berth's built-in ssh server, used for `git push` and
// for remote commands such as `ssh berth@host apps:list` or
// `ssh -t berth@host run shop bash`.
//
// The server knows nothing about git or Berth's commands: it authenticates
// clients by public key (through an [Authenticator]) and hands the command of
// each ssh "exec" request to a [Handler], together with the session's standard
// streams, its terminal (if the client asked for one) and a context that ends
// when the client goes away.
//
// Everything else an ssh server usually offers is refused: password and
// keyboard-interactive authentication, shells, subsystems (sftp), local and
// remote port forwarding, agent forwarding and X11 forwarding. Environment
// variables sent by the client are ignored.
package sshserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Authenticator maps a public key to the name of a registered key.
type Authenticator interface {
	// Authenticate returns the key's name, or ok=false to refuse the connection.
	//
	// It may be called for keys the client merely offers without proving it
	// holds the private key; the name used for a session is always the one
	// returned for the key the client actually signed with.
	Authenticate(ctx context.Context, key gossh.PublicKey) (name string, ok bool)
}

// PTY describes the terminal a client asked for with `ssh -t`.
type PTY struct {
	// Term is the client's TERM, e.g. "xterm-256color".
	Term string
	// Height and Width are the terminal size in rows and columns.
	Height, Width uint
}

// Session is one ssh "exec" request.
type Session struct {
	// User is the ssh user name (any is accepted: berth, dokku, git).
	User string
	// KeyName is the name the Authenticator returned for the client's key.
	KeyName string
	// Command is the raw command string the client sent.
	Command string
	// Stdin is the client's input; it reads io.EOF when the client closes
	// its input.
	Stdin io.Reader
	// Stdout and Stderr go to the client. Without a PTY, Stderr is sent as
	// the ssh extended-data (stderr) stream. With a PTY both are written to
	// the single terminal stream, byte for byte: the client's terminal is in
	// raw mode, so text written here should end lines with "\r\n" (output of
	// a program running on a TTY, such as `docker exec -t`, already does).
	Stdout, Stderr io.Writer
	// PTY is the terminal the client asked for, nil without `ssh -t`.
	PTY *PTY
	// Resize receives [height, width] whenever the client's terminal size
	// changes after the session started (the initial size is in PTY). Only
	// the most recent size is kept if the handler does not keep up. It is
	// closed when the client closes the session. Nil without a PTY.
	Resize <-chan [2]uint
	// RemoteAddr is the client's network address.
	RemoteAddr net.Addr
}

// Handler runs a session's command and returns its exit status. ctx ends
// when the client disconnects (or the server is shut down and its grace
// period is over). Exit statuses outside 0–255 are sent as 1. A panic is
// recovered, logged and reported to the client as exit status 1.
type Handler func(ctx context.Context, s *Session) int

// Config configures a Server. HostKeyPath, Auth and Handler are required.
type Config struct {
	// HostKeyPath is the server's ed25519 private host key in OpenSSH PEM
	// format. It is created (mode 0600, parent directory 0700) on first start
	// if missing, and reused afterwards.
	HostKeyPath string
	// Auth decides which public keys may connect.
	Auth Authenticator
	// Handler runs the command of each exec request.
	Handler Handler
	// Log receives one record per session and the server's diagnostics;
	// nil discards them.
	Log *slog.Logger
	// IdleTimeout closes a connection after this long without any traffic
	// in either direction; 0 means no timeout.
	IdleTimeout time.Duration
	// AuthLimit bounds failed authentications per client address.
	AuthLimit AuthLimit
}

// Server is Berth's ssh server. Create it with New.
type Server struct {
	cfg         Config
	log         *slog.Logger
	signer      gossh.Signer
	fingerprint string
	srv         *ssh.Server
	loginGrace  time.Duration // to authenticate after connecting
	limit       *authLimiter  // nil: no limit

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*trackedConn]struct{}
	running   sync.WaitGroup // commands (and refusals) in progress
}

// Permission extensions set on an authenticated connection.
const (
	extKeyName        = "berth-key-name"
	extKeyFingerprint = "berth-key-fingerprint"
)

// defaultLoginGrace is how long a client has to authenticate, like
// OpenSSH's LoginGraceTime. gliderlabs has no such limit: without an
// IdleTimeout a client that never finishes the handshake is kept forever.
const defaultLoginGrace = 2 * time.Minute

// Context keys (gliderlabs context) of a connection's *authState and
// *trackedConn.
var (
	authStateKey = &struct{ name string }{"berth-auth-state"}
	connKey      = &struct{ name string }{"berth-conn"}
)

// authState remembers, for one connection, the names the Authenticator gave
// to the keys the client offered. The ssh handshake calls the callbacks from
// a single goroutine, so it needs no lock.
type authState struct {
	names map[string]string // key.Marshal() -> name
}

// New loads or creates the host key and returns a server ready to Serve.
func New(cfg Config) (*Server, error) {
	if cfg.HostKeyPath == "" {
		return nil, errors.New("sshserver: Config.HostKeyPath is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("sshserver: Config.Auth is required")
	}
	if cfg.Handler == nil {
		return nil, errors.New("sshserver: Config.Handler is required")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	signer, err := loadOrCreateHostKey(cfg.HostKeyPath, log)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		log:         log,
		signer:      signer,
		fingerprint: gossh.FingerprintSHA256(signer.PublicKey()),
		loginGrace:  defaultLoginGrace,
		limit:       newAuthLimiter(cfg.AuthLimit, log),
		listeners:   make(map[net.Listener]struct{}),
		conns:       make(map[*trackedConn]struct{}),
	}
	s.srv = &ssh.Server{
		Version:     "Berth",
		HostSigners: []ssh.Signer{signer},
		IdleTimeout: cfg.IdleTimeout,
		// Never used: the "session" channel handler below replaces
		// gliderlabs' session handling entirely. Set so Serve does not
		// install its default (racily).
		Handler:              func(ssh.Session) {},
		PublicKeyHandler:     s.publicKeyHandler,
		ServerConfigCallback: s.serverConfig,
		ConnCallback:         s.connCallback,
		ConnectionFailedCallback: func(conn net.Conn, err error) {
			if errors.Is(err, io.EOF) {
				return // port scanners, health checks
			}
			s.log.Info("ssh connection failed", "remote", conn.RemoteAddr().String(), "err", err)
		},
		// Non-nil maps so gliderlabs' package-level defaults (which any
		// importer can modify) are never used.
		ChannelHandlers: map[string]ssh.ChannelHandler{
			"session": s.handleSessionChannel,
			"default": s.refuseChannel,
		},
		RequestHandlers: map[string]ssh.RequestHandler{
			"default": s.refuseGlobalRequest,
		},
		SubsystemHandlers: map[string]ssh.SubsystemHandler{},
	}
	return s, nil
}

// HostKeyFingerprint returns the SHA256 fingerprint of the host key, in the
// form ssh and ssh-keygen print it ("SHA256:...").
func (s *Server) HostKeyFingerprint() string { return s.fingerprint }

// Serve accepts connections on ln until Shutdown is called, then returns nil.
// It closes ln when it returns. Serve may be called for several listeners.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	s.log.Info("ssh server listening", "addr", ln.Addr().String(), "host_key", s.fingerprint)
	err := s.srv.Serve(ln)
	if s.isClosing() || errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and new sessions, waits for running
// sessions to finish until ctx ends, then closes every connection (which
// cancels the context of any handler still running). It returns ctx.Err() if
// sessions were still running when ctx ended.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.running.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}

	s.mu.Lock()
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.srv.Close()
	return err
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// beginCommand registers a running command, unless the server is shutting
// down.
func (s *Server) beginCommand() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.running.Add(1)
	return true
}

// trackedConn lets Shutdown close connections gliderlabs does not track yet
// (those still in the ssh handshake), and enforces the login grace time.
type trackedConn struct {
	net.Conn
	s       *Server
	once    sync.Once
	authed  atomic.Bool
	refused atomic.Int32 // keys the Authenticator refused
	grace   *time.Timer
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		grace := c.grace // assigned under mu, maybe after the timer fired
		c.s.mu.Unlock()
		grace.Stop()
		if !c.authed.Load() && c.refused.Load() > 0 {
			c.s.limit.fail(limitKey(c.RemoteAddr()))
		}
	})
	return c.Conn.Close()
}

// authenticated stops the login grace timer.
func (c *trackedConn) authenticated() {
	c.authed.Store(true)
	c.grace.Stop()
}

func (s *Server) connCallback(ctx ssh.Context, conn net.Conn) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil // gliderlabs closes it
	}
	if s.limit.blocked(limitKey(conn.RemoteAddr())) {
		return nil // too many failed authentications: logged once by fail
	}
	tc := &trackedConn{Conn: conn, s: s}
	tc.grace = time.AfterFunc(s.loginGrace, func() {
		if !tc.authed.Load() {
			s.log.Info("ssh login timed out", "remote", conn.RemoteAddr().String())
			tc.Close()
		}
	})
	s.conns[tc] = struct{}{}
	ctx.SetValue(connKey, tc)
	return tc
}

// serverConfig is called once per connection, before the handshake.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	st := &authState{names: make(map[string]string)}
	ctx.SetValue(authStateKey, st)
	tc, _ := ctx.Value(connKey).(*trackedConn)
	return &gossh.ServerConfig{
		// Called only once the client has proved it holds the private key.
		// Returning fresh Permissions ties the key name to the key that was
		// actually used, whatever other keys were offered before it.
		VerifiedPublicKeyCallback: func(_ gossh.ConnMetadata, key gossh.PublicKey, _ *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			name, ok := st.names[string(key.Marshal())]
			if !ok {
				return nil, errors.New("permission denied")
			}
			if tc != nil {
				tc.authenticated()
			}
			return &gossh.Permissions{Extensions: map[string]string{
				extKeyName:        name,
				extKeyFingerprint: gossh.FingerprintSHA256(key),
			}}, nil
		},
	}
}

// publicKeyHandler is called for every key the client offers.
func (s *Server) publicKeyHandler(ctx ssh.Context, key ssh.PublicKey) bool {
	st, _ := ctx.Value(authStateKey).(*authState)
	if st == nil {
		return false
	}
	name, ok := s.cfg.Auth.Authenticate(ctx, key)
	if !ok {
		if tc, _ := ctx.Value(connKey).(*trackedConn); tc != nil {
			tc.refused.Add(1)
		}
		s.log.Debug("ssh key refused", "remote", ctx.RemoteAddr().String(), "user", ctx.User(),
			"key_fingerprint", gossh.FingerprintSHA256(key))
		return false
	}
	st.names[string(key.Marshal())] = name
	return true
}

// refuseChannel rejects every channel type but "session": direct-tcpip
// (ssh -L, -D), and anything else a client may try.
func (s *Server) refuseChannel(_ *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, _ ssh.Context) {
	s.log.Debug("ssh channel refused", "remote", conn.RemoteAddr().String(), "type", newChan.ChannelType())
	newChan.Reject(gossh.Prohibited, fmt.Sprintf("%s channels are not allowed", newChan.ChannelType()))
}

// refuseGlobalRequest refuses connection-level requests: tcpip-forward
// (ssh -R) and its cancellation, and OpenSSH extensions. A "false" reply to
// keepalive@openssh.com still serves as a keepalive.
func (s *Server) refuseGlobalRequest(ctx ssh.Context, _ *ssh.Server, req *gossh.Request) (bool, []byte) {
	if req.Type != "keepalive@openssh.com" {
		s.log.Debug("ssh request refused", "remote", ctx.RemoteAddr().String(), "type", req.Type)
	}
	return false, nil
}
