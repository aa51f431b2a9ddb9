package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// Client is the daemon's side of the control socket. Each call returns
// once the proxy has done what it asks: a table change is persisted and
// live.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the proxy listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// SetRoute replaces one app's route atomically.
func (c *Client) SetRoute(ctx context.Context, r Route) error {
	if r.App == "" {
		return errInvalid("a route needs an app name")
	}
	return c.call(ctx, http.MethodPut, "/v1/routes/"+url.PathEscape(r.App), r, nil)
}

// DeleteRoute removes an app's route; an app without one is no error.
func (c *Client) DeleteRoute(ctx context.Context, app string) error {
	if app == "" {
		return errInvalid("DeleteRoute needs an app name")
	}
	return c.call(ctx, http.MethodDelete, "/v1/routes/"+url.PathEscape(app), nil, nil)
}

// Replace sets the whole table (the daemon's start).
func (c *Client) Replace(ctx context.Context, routes []Route) error {
	if routes == nil {
		routes = []Route{}
	}
	return c.call(ctx, http.MethodPut, "/v1/routes", replaceRequest{Routes: routes}, nil)
}

// SetChallenge makes the proxy answer the ACME HTTP-01 challenge token
// (GET /.well-known/acme-challenge/TOKEN over HTTP, any host) with keyAuth,
// the key authorization ("TOKEN.THUMBPRINT"), until ClearChallenge or
// ChallengeTTL. Challenges are kept in memory only.
func (c *Client) SetChallenge(ctx context.Context, token, keyAuth string) error {
	if err := checkChallenge(token, keyAuth); err != nil {
		return err
	}
	return c.call(ctx, http.MethodPut, "/v1/challenges/"+url.PathEscape(token), challengeRequest{KeyAuth: keyAuth}, nil)
}

// ClearChallenge stops answering the ACME challenge token; an unknown
// token is no error.
func (c *Client) ClearChallenge(ctx context.Context, token string) error {
	if !validToken(token) {
		return errInvalid("invalid ACME challenge token %q", token)
	}
	return c.call(ctx, http.MethodDelete, "/v1/challenges/"+url.PathEscape(token), nil, nil)
}

// SetALPNCert makes the proxy's HTTPS listener answer ACME TLS-ALPN-01
// validations (RFC 8737) of name, a DNS name (lower-cased; no wildcard),
// until ClearALPNCert or ChallengeTTL: a TLS handshake whose only ALPN
// protocol is acme-tls/1, with name as server name, gets this certificate
// and negotiates acme-tls/1, and the connection is closed after the
// handshake. certPEM and keyPEM are the challenge certificate (as made by
// acme.Client.TLSALPN01ChallengeCert for name) and its key (PKCS#8, SEC1
// or PKCS#1 PEM); a pair that does not parse or match, or a certificate
// that is not a challenge certificate for name, is refused
// (ErrInvalidRoute). Setting a name again replaces its certificate.
// Certificates are kept in memory only; other clients of the listener are
// unaffected.
func (c *Client) SetALPNCert(ctx context.Context, name, certPEM, keyPEM string) error {
	name, err := checkALPNName(name)
	if err != nil {
		return err
	}
	if _, err := parseALPNCert(name, certPEM, keyPEM); err != nil {
		return err
	}
	return c.call(ctx, http.MethodPut, "/v1/alpn-certs/"+url.PathEscape(name), alpnCertRequest{CertPEM: certPEM, KeyPEM: keyPEM}, nil)
}

// ClearALPNCert stops answering ACME TLS-ALPN-01 validations of name; a
// name without a certificate is no error.
func (c *Client) ClearALPNCert(ctx context.Context, name string) error {
	name, err := checkALPNName(name)
	if err != nil {
		return err
	}
	return c.call(ctx, http.MethodDelete, "/v1/alpn-certs/"+url.PathEscape(name), nil, nil)
}

// Routes returns the table, ordered by app. A route with TLS reports the
// hosts its certificate does not cover in RouteTLS.Uncovered.
func (c *Client) Routes(ctx context.Context) ([]Route, error) {
	var out []Route
	err := c.call(ctx, http.MethodGet, "/v1/routes", nil, &out)
	return out, err
}

// Drain waits until no request is in flight to any of addrs (requests
// already sent to them finish normally) or timeout; it returns how many are
// still in flight.
func (c *Client) Drain(ctx context.Context, addrs []string, timeout time.Duration) (int, error) {
	var out drainResponse
	err := c.call(ctx, http.MethodPost, "/v1/drain", drainRequest{Addrs: addrs, Timeout: timeout}, &out)
	return out.InFlight, err
}

// Status describes the running proxy; it fails with ErrNotRunning if there
// is none.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	err := c.call(ctx, http.MethodGet, "/v1/status", nil, &out)
	return out, err
}

// Targets lists every target with its health and requests in flight,
// including targets that left the table and still finish requests.
func (c *Client) Targets(ctx context.Context) ([]TargetStatus, error) {
	var out []TargetStatus
	err := c.call(ctx, http.MethodGet, "/v1/targets", nil, &out)
	return out, err
}

// Metrics returns the proxy's request counters by app and release
// (metrics.go). An older proxy without them answers an error.
func (c *Client) Metrics(ctx context.Context) (Snapshot, error) {
	var out Snapshot
	err := c.call(ctx, http.MethodGet, "/v1/metrics", nil, &out)
	return out, err
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("proxy: encode request: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://berth-proxy"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED):
			return fmt.Errorf("%w: nothing answers on %s", ErrNotRunning, c.socket)
		case errors.Is(err, syscall.EACCES):
			return fmt.Errorf("proxy: permission denied on the control socket %s: it is root-only", c.socket)
		}
		return fmt.Errorf("proxy: call %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == nil {
			return fmt.Errorf("proxy: %s %s answered %s: is it a berth proxy of the same version?", method, path, resp.Status)
		}
		return e.Error
	}
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("proxy: decode answer to %s %s: %w", method, path, err)
	}
	return nil
}
