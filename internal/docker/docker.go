// Package docker is Berth's only gateway to the Docker Engine API.
//
// Every other package goes through this one, so that the engine's quirks
// (API-version negotiation with older daemons such as Debian's docker.io,
// which speaks API 1.41, and the moby client's error shapes) are handled in
// one place, and so that "the engine is not there" always surfaces as the
// same one-line error, [ErrEngineUnavailable].
//
// Callers use plain Berth-side types (ContainerSpec, ImageInfo, Event, ...)
// and never import moby packages. Errors are one line, prefixed with
// "docker: <operation>: "; a missing container, image or network matches
// [ErrNotFound] with errors.Is, an unreachable engine matches
// [ErrEngineUnavailable], and a cancelled or expired context matches the
// context's error.
package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
)

// ErrEngineUnavailable reports that no usable Docker Engine answered: the
// socket is missing, the connection was refused or timed out, permission was
// denied, or the engine is too old for the client. Errors returned by [New]
// and [Client.Ping] for these cases satisfy errors.Is(err, ErrEngineUnavailable)
// and carry a one-line, human-readable message.
var ErrEngineUnavailable = errors.New("docker engine unavailable")

// ErrSwarmNotReady is an engine in a swarm that is not back in it yet
// (its engine just restarted) or is cut off from it: the swarm's
// services and tasks cannot be listed for now.
var ErrSwarmNotReady = errors.New("the swarm is not ready on this node")

// pingTimeout bounds how long New and Ping wait for the engine to answer
// when the caller's context has no earlier deadline.
const pingTimeout = 5 * time.Second

// startHint tells a person how to bring the engine up on a Berth machine.
const startHint = "(start it with scripts/ensure-docker)"

// Client is a connection to a Docker Engine. It is safe for concurrent use.
// Create one with [New] and release it with [Client.Close].
type Client struct {
	api *client.Client

	// The swarm state SwarmManager last read (services.go).
	swarmMu sync.Mutex
	swarmAt time.Time
	swarm   swarmLocal
}

// New connects to the Docker Engine named by the environment (DOCKER_HOST,
// DOCKER_API_VERSION, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY; by default the
// unix socket /var/run/docker.sock), negotiates the API version down to what
// the engine speaks, and pings it.
//
// When the engine cannot be reached the error wraps [ErrEngineUnavailable]
// and has a one-line message naming the address. If ctx itself is cancelled
// or expires, the context's error is returned (wrapped) instead.
func New(ctx context.Context) (*Client, error) {
	api, err := client.New(client.FromEnv)
	if err != nil {
		// A malformed DOCKER_HOST or unreadable TLS material: configuration,
		// not availability.
		return nil, fmt.Errorf("docker: invalid client configuration (DOCKER_HOST=%q): %s",
			os.Getenv(client.EnvOverrideHost), firstLine(err.Error()))
	}
	c := &Client{api: api}
	if err := c.Ping(ctx); err != nil {
		_ = api.Close()
		return nil, err
	}
	return c, nil
}

// NewHost is New for the engine at host ("unix:///path/docker.sock"),
// whatever DOCKER_HOST says: a test's private engine, or another node's.
func NewHost(ctx context.Context, host string) (*Client, error) {
	api, err := client.New(client.FromEnv, client.WithHost(host))
	if err != nil {
		return nil, fmt.Errorf("docker: invalid engine address %q: %s", host, firstLine(err.Error()))
	}
	c := &Client{api: api}
	if err := c.Ping(ctx); err != nil {
		_ = api.Close()
		return nil, err
	}
	return c, nil
}

// Ping checks that the engine answers, negotiating the API version on the
// first successful call. Failures map to errors as described for [New].
func (c *Client) Ping(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	res, err := c.api.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The caller gave up; that says nothing about the engine.
		return fmt.Errorf("docker: ping %s: %w", c.Host(), ctx.Err())
	}
	return c.unavailable(res, err, pctx.Err() != nil)
}

// Close releases the client's idle connections. The Client must not be used
// afterwards.
func (c *Client) Close() error {
	return c.api.Close()
}

// Host returns the engine address in use, such as
// "unix:///var/run/docker.sock".
func (c *Client) Host() string {
	return c.api.DaemonHost()
}

// APIVersion returns the Engine API version the client uses: after [New]
// succeeds, the lower of the engine's version and the client's maximum
// (for example "1.41" against Debian 12's docker.io).
func (c *Client) APIVersion() string {
	return c.api.ClientVersion()
}

// unavailableError is the one-line error for an engine that did not answer.
// It matches ErrEngineUnavailable with errors.Is and unwraps to the
// underlying client error for callers that want details (such as
// fs.ErrPermission), without putting those details in the message.
type unavailableError struct {
	msg   string
	cause error
}

func (e *unavailableError) Error() string { return e.msg }

func (e *unavailableError) Is(target error) bool { return target == ErrEngineUnavailable }

func (e *unavailableError) Unwrap() error { return e.cause }

// unavailable turns a failed ping into an unavailableError with a short,
// actionable reason.
func (c *Client) unavailable(res client.PingResult, err error, timedOut bool) error {
	host := c.Host()
	var reason string
	switch {
	case timedOut:
		reason = fmt.Sprintf("no answer within %s: is dockerd running and healthy? %s", pingTimeout, startHint)
	case errors.Is(err, os.ErrPermission):
		reason = "permission denied: run as root or as a member of the docker group"
	case errors.Is(err, os.ErrNotExist), client.IsErrConnectionFailed(err):
		reason = "is dockerd running? " + startHint
	case res.APIVersion != "" && versions.LessThan(res.APIVersion, client.MinAPIVersion):
		return &unavailableError{
			msg: fmt.Sprintf("Docker Engine at %s speaks API %s, older than the minimum %s: upgrade the engine",
				host, res.APIVersion, client.MinAPIVersion),
			cause: err,
		}
	default:
		reason = firstLine(err.Error()) + " " + startHint
	}
	return &unavailableError{
		msg:   fmt.Sprintf("Docker Engine is not reachable at %s: %s", host, reason),
		cause: err,
	}
}

// firstLine trims s to its first line, so errors stay one line.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
