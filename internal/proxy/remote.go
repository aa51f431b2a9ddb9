package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// The control API over TCP, for a cluster: the proxy of a node other than
// the manager's is driven by the manager's daemon across the network. It
// is the same API as the unix socket's (control.go) but for the hand-over,
// which passes file descriptors and only works on the socket. Only
// clients with a certificate from the cluster's CA get in: mutual TLS
// 1.3, tls.RequireAndVerifyClientCert.

// DefaultControlPort is the port of the control API over TCP.
const DefaultControlPort = "7950"

// Files of a control TLS directory (BERTH_PROXY_CONTROL_TLS_DIR): the
// cluster's CA and this node's certificate and key, written by
// scheduler-swarm:cluster-add.
const (
	ControlCAFile   = "ca.crt"
	ControlCertFile = "node.crt"
	ControlKeyFile  = "node.key"
)

// ControlAddr completes a control address: a missing port is
// DefaultControlPort ("10.0.0.2" -> "10.0.0.2:7950").
func ControlAddr(addr string) (string, error) {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr, nil
	}
	if addr == "" || net.ParseIP(addr) == nil && !validHostPattern(addr) {
		return "", fmt.Errorf("control address %q is not HOST:PORT", addr)
	}
	return net.JoinHostPort(addr, DefaultControlPort), nil
}

// LoadServerTLS reads dir's ca.crt, node.crt and node.key into the TLS
// configuration of the control listener: TLS 1.3, clients must present a
// certificate signed by the CA.
func LoadServerTLS(dir string) (*tls.Config, error) {
	pool, cert, err := loadTLSDir(dir, ControlCertFile, ControlKeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// LoadClientTLS reads dir's ca.crt and the client certificate and key
// (certFile, keyFile in dir) into the TLS configuration of a client of
// remote proxies: TLS 1.3, the proxy's certificate must be signed by the
// CA and name the address dialled.
func LoadClientTLS(dir, certFile, keyFile string) (*tls.Config, error) {
	pool, cert, err := loadTLSDir(dir, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
	}, nil
}

func loadTLSDir(dir, certFile, keyFile string) (*x509.CertPool, tls.Certificate, error) {
	if dir == "" {
		return nil, tls.Certificate{}, errors.New("no TLS directory given (it must hold " + ControlCAFile + ", " + certFile + " and " + keyFile + ")")
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, ControlCAFile))
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("read the cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, tls.Certificate{}, fmt.Errorf("%s holds no PEM certificate", filepath.Join(dir, ControlCAFile))
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("load %s and %s from %s: %w", certFile, keyFile, dir, err)
	}
	return pool, cert, nil
}

// remoteControl is the TCP control listener of a running proxy.
type remoteControl struct {
	srv *http.Server
	ln  net.Listener
}

// listenRemote listens on cfg.ControlAddr with tlsCfg. A proxy taking
// over waits for the old one to let the port go (it closes its listener
// once the hand-over is done), for up to handoverTimeout.
func (s *server) listenRemote(tlsCfg *tls.Config, takeover bool) (*remoteControl, error) {
	deadline := time.Now().Add(handoverTimeout)
	var ln net.Listener
	for {
		var err error
		ln, err = net.Listen("tcp", s.cfg.ControlAddr)
		if err == nil {
			break
		}
		if !takeover || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return nil, fmt.Errorf("proxy: control over TCP: listen on %s: %w", s.cfg.ControlAddr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h := s.controlHandler()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/handover" {
				fail(w, errInvalid("the hand-over is only offered on the control socket"))
				return
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return &remoteControl{srv: srv, ln: tls.NewListener(ln, tlsCfg)}, nil
}

// RoutesHash identifies a routing table: the SHA-256 of its routes as
// set (RouteTLS.Uncovered, which the proxy works out, left out), ordered
// by app. A proxy reports its own in Status.RoutesHash, so a daemon that
// keeps remote proxies in step (package routing) compares hashes instead
// of tables.
func RoutesHash(routes []Route) string {
	rs := make([]Route, len(routes))
	for i, r := range routes {
		if r.TLS != nil && r.TLS.Uncovered != nil {
			c := *r.TLS
			c.Uncovered = nil
			r.TLS = &c
		}
		rs[i] = r
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].App < rs[j].App })
	h := sha256.New()
	json.NewEncoder(h).Encode(rs)
	return hex.EncodeToString(h.Sum(nil))
}

// hash is the table's RoutesHash, worked out once, at the first Status
// that asks for it (the change path does not pay for it).
func (t *table) hash() string {
	t.hashOnce.Do(func() { t.routesHash = RoutesHash(t.sortedRoutes()) })
	return t.routesHash
}

// NewRemoteClient returns a client for the proxy whose control API
// listens on addr (HOST:PORT) over TLS with tlsCfg (LoadClientTLS).
// The server's certificate must name addr's host.
func NewRemoteClient(addr string, tlsCfg *tls.Config) *Client {
	host, _, _ := net.SplitHostPort(addr)
	cfg := tlsCfg.Clone()
	cfg.ServerName = host
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}, Config: cfg}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{socket: addr, http: &http.Client{Transport: tr}}
}
