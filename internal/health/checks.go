package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/appfile"
)

// maxBody is how much of a response body a path check reads to look for
// its content.
const maxBody = 1 << 20

// userAgent is sent with path checks, so apps can tell them from users.
const userAgent = "berth-healthcheck"

// checkHost returns the Host header a path check sends: its own, else
// RunOptions.Host; "" leaves the address connected to.
func (r *runner) checkHost(h appfile.Healthcheck) string {
	host := r.host
	for _, hd := range h.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			host = hd.Value
		}
	}
	return host
}

// request describes what a path check sends, for messages: "URL with
// Host: HOST".
func (r *runner) request(h appfile.Healthcheck) string {
	addr := r.addr()
	host := r.checkHost(h)
	if host == "" {
		host = addr
	}
	return oneLine(strings.ToLower(h.Scheme)+"://"+addr+h.Path, 150) + " with Host: " + oneLine(host, 100)
}

// pathCheck returns the attempt of a path check.
func (r *runner) pathCheck(h appfile.Healthcheck) attemptFunc {
	scheme := strings.ToLower(h.Scheme)
	addr := r.addr()
	host := r.checkHost(h)
	serverName := host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		serverName = hn
	}
	return func(ctx context.Context) (bool, string) {
		if scheme != "http" && scheme != "https" {
			return false, fmt.Sprintf("unsupported scheme %q", scheme)
		}
		u, err := url.Parse(scheme + "://" + addr + h.Path)
		if err != nil || u.Host != addr {
			return false, "invalid path"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return false, "invalid request: " + oneLine(err.Error(), 200)
		}
		req.Header.Set("User-Agent", userAgent)
		req.Header.Set("Accept", "*/*")
		for _, hd := range h.HTTPHeaders {
			if !strings.EqualFold(hd.Name, "Host") {
				req.Header.Set(hd.Name, hd.Value)
			}
		}
		req.Host = host
		// A transport per attempt: no connection is reused across
		// attempts, and proxy settings of the environment are ignored.
		tr := &http.Transport{
			Proxy:             nil,
			DialContext:       (&net.Dialer{}).DialContext,
			DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{
				// The container serves its own, often self-signed,
				// certificate for the app's domains, not 127.0.0.1.
				InsecureSkipVerify: true, //nolint:gosec // see above
				ServerName:         serverName,
			},
		}
		defer tr.CloseIdleConnections()
		client := &http.Client{
			Transport: tr,
			// Follow redirects only while they stay in the container:
			// another host would be checked in its place.
			CheckRedirect: func(next *http.Request, via []*http.Request) error {
				if next.URL.Host != addr || len(via) >= 10 {
					return http.ErrUseLastResponse
				}
				return nil
			},
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, describeNetErr(err)
		}
		defer resp.Body.Close()
		status := oneLine(resp.Status, 100)
		if status == "" {
			status = strconv.Itoa(resp.StatusCode)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode <= 399 {
				status += " (redirect to " + oneLine(loc, 100) + ")"
			}
			return false, status
		}
		if h.Content == "" {
			return true, status
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return false, status + ", reading the body: " + describeNetErr(err)
		}
		if !bytes.Contains(body, []byte(h.Content)) {
			return false, fmt.Sprintf("%s, body lacks %s", status, strconv.Quote(oneLine(h.Content, 60)))
		}
		return true, status
	}
}

// commandCheck returns the attempt of a command check.
func (r *runner) commandCheck(h appfile.Healthcheck) attemptFunc {
	type execResult struct {
		code   int
		output string
		err    error
	}
	return func(ctx context.Context) (bool, string) {
		res, err := await(ctx, func() execResult {
			var e execResult
			e.code, e.output, e.err = r.c.Exec(ctx, h.Command)
			return e
		})
		if err != nil {
			return false, oneLine(err.Error(), 200)
		}
		if res.err != nil {
			return false, "exec: " + oneLine(res.err.Error(), 200)
		}
		out := tail(res.output, 200)
		if res.code != 0 {
			got := fmt.Sprintf("exited %d", res.code)
			if out != "" {
				got += ": " + out
			}
			return false, got
		}
		return true, "exited 0"
	}
}

// listeningCheck returns the attempt of a listening check.
func (r *runner) listeningCheck() attemptFunc {
	addr := r.addr()
	// How long an accepted connection must stay open: Docker's userland
	// proxy accepts on the published port and closes the connection at
	// once when nothing listens in the container.
	probe := min(r.unit/5, 200*time.Millisecond)
	return func(ctx context.Context) (bool, string) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, describeNetErr(err)
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
		defer stop()
		conn.SetReadDeadline(time.Now().Add(probe))
		_, err = conn.Read(make([]byte, 1))
		if ctx.Err() != nil {
			return false, oneLine(ctx.Err().Error(), 100)
		}
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			return true, "accepted a connection"
		}
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return false, "connection closed at once (nothing listens behind the published port?)"
		}
		return false, describeNetErr(err)
	}
}

// describeNetErr says briefly what went wrong with a connection or request.
func describeNetErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var rh tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without a response"
	case errors.As(err, &rh):
		return "no TLS handshake (does the app serve plain http?)"
	}
	return oneLine(err.Error(), 200)
}

// addr is where path and listening checks reach the container: its
// Addresser's address (a Swarm task on another node), else its published
// port on 127.0.0.1.
func (r *runner) addr() string {
	if a, ok := r.c.(Addresser); ok {
		if addr := a.Addr(); addr != "" {
			return addr
		}
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.c.HostPort()))
}
