package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
)

// Client calls the daemon over its unix control socket.
type Client struct {
	socket string
	http   *http.Client
}

var _ Caller = (*Client)(nil)

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}
	return &Client{socket: socket, http: &http.Client{Transport: tr}}
}

// Socket returns the path of the control socket.
func (c *Client) Socket() string { return c.socket }

// Call performs op on the daemon.
func (c *Client) Call(ctx context.Context, op string, req, resp any, out Output) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", op, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://berth/v1/"+op, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return c.dialError(err)
	}
	defer hresp.Body.Close()
	if hresp.StatusCode != http.StatusOK {
		return fmt.Errorf("the daemon on %s answered %s to %s: is it a berth daemon of the same version?", c.socket, hresp.Status, op)
	}
	return readFrames(hresp.Body, resp, out)
}

// dialError turns a failure to reach the daemon into the error users see.
func (c *Client) dialError(err error) error {
	if isNotRunning(err) {
		return &NotRunningError{Socket: c.socket}
	}
	if errors.Is(err, syscall.EACCES) {
		return Errorf(CodeForbidden, "%s", NeedRoot("the control socket "+c.socket))
	}
	return fmt.Errorf("call the daemon on %s: %w", c.socket, err)
}

// NeedRoot is the one line a user without access to Berth's data dir or
// control socket sees: Berth's commands need root; what names the file
// that refused them.
func NeedRoot(what string) string {
	return fmt.Sprintf("Berth's commands need root: run them as root (sudo berth ...) or over ssh with a registered key (ssh dokku@HOST ...); %s is root-only", what)
}

func isNotRunning(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

// NotRunningError says nothing answers on the control socket. It matches
// ErrDaemonNotRunning.
type NotRunningError struct{ Socket string }

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("Berth is not running: nothing answers on %s; start it with `berth serve` (or `systemctl start berth`)", e.Socket)
}

// Is reports whether target is ErrDaemonNotRunning.
func (e *NotRunningError) Is(target error) bool { return target == ErrDaemonNotRunning }
