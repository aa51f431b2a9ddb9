package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/store"
)

// policy is how deliveries are attempted.
type policy struct {
	attempts int           // attempts per delivery, at least 1
	delay    time.Duration // wait before the second attempt; doubled after each
	maxDelay time.Duration // bound of a wait
}

// backoff is the wait after attempt n (1-based) failed: delay, 2×delay,
// 4×delay, ... bounded by maxDelay.
func (p policy) backoff(n int) time.Duration {
	d := p.delay
	for i := 1; i < n && d < p.maxDelay; i++ {
		d *= 2
	}
	return min(d, p.maxDelay)
}

// deliver posts ev to t, retrying failures worth retrying (no answer, a
// 5xx, 408 or 429) with backoff (longer when the receiver's Retry-After
// asks, up to maxDelay), and returns the outcome.
func (m *Manager) deliver(ctx context.Context, t store.NotificationTarget, ev Event, p policy) store.DeliveryResult {
	res := store.DeliveryResult{Event: ev.Kind}
	body, err := Payload(t.Format, m.host, ev)
	if err != nil {
		res.At, res.Error = m.now(), err.Error()
		return res
	}
	for try := 1; ; try++ {
		status, after, err := m.post(ctx, t.URL, body)
		res.At, res.Status, res.Tries, res.Error = m.now(), status, try, ""
		if err == nil {
			return res
		}
		res.Error = err.Error()
		if try >= p.attempts || !retryable(status) || ctx.Err() != nil {
			return res
		}
		if !m.sleep(ctx, min(max(p.backoff(try), after), p.maxDelay)) {
			return res
		}
	}
}

// retryable: no answer (status 0), a server error, a timeout or too many
// requests may go away; another client error will not.
func retryable(status int) bool {
	return status == 0 || status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

// post sends one attempt and returns the status, the wait a failed one's
// Retry-After asks for (in seconds; 0 when none), and an error when it was
// not delivered. The error never holds the URL (a Slack or Discord
// webhook's URL is its secret).
func (m *Manager) post(ctx context.Context, target string, body []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, 0, errors.New("bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth-notify")
	resp, err := m.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, 0, fmt.Errorf("no answer within %s", m.timeout)
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	var after time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(text)), "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	if line != "" {
		return resp.StatusCode, after, fmt.Errorf("HTTP %d: %s", resp.StatusCode, line)
	}
	return resp.StatusCode, after, fmt.Errorf("HTTP %d", resp.StatusCode)
}

// sleepCtx waits d, or less when ctx ends first (then false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
