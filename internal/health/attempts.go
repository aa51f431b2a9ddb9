package health

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/appfile"
)

// stateResult is what Container.State returns.
type stateResult struct {
	running   bool
	restarts  int
	startedAt time.Time
	err       error
}

// state calls Container.State, returning at once when ctx ends. When the
// container is not running it records that and returns errStopped.
func (r *runner) state(ctx context.Context) (stateResult, error) {
	st, err := await(ctx, func() stateResult {
		var s stateResult
		s.running, s.restarts, s.startedAt, s.err = r.c.State(ctx)
		return s
	})
	if err != nil {
		return st, err
	}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	if st.err == nil && !st.running {
		r.stopped = "container not running"
		if st.restarts > 0 {
			r.stopped += fmt.Sprintf(" (restarted %s)", times(st.restarts))
		}
		return st, errStopped
	}
	return st, nil
}

// pause sleeps d, polling the container's state; it returns errStopped when
// the container stops and ctx.Err() when ctx ends. Errors of State itself
// are ignored here: the next attempt reports them.
func (r *runner) pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		if err := sleep(ctx, min(left, r.poll)); err != nil {
			return err
		}
		if time.Until(deadline) > 0 {
			if _, err := r.state(ctx); err != nil {
				return err
			}
		}
	}
}

// earlyPass sleeps d, as pause does, but tries the check quietly every
// poll meanwhile and returns as soon as one try passes. It ends a delay the
// app did not choose (appfile.Healthcheck.DefaultDelay): a try that passes
// is the evidence the counted attempts then look for, and a try that fails
// counts for nothing, so the check is never stricter nor more lenient than
// with the full delay, only done sooner. Each try is bounded by the poll
// interval's double, at least a second, and by what is left of d.
func (r *runner) earlyPass(ctx context.Context, d time.Duration, try attemptFunc) error {
	if d <= 0 {
		return ctx.Err()
	}
	deadline := time.Now().Add(d)
	per := max(2*r.poll, time.Second)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		if _, err := r.state(ctx); err != nil {
			return err
		}
		tctx, cancel := context.WithTimeout(ctx, min(per, left))
		ok, _ := try(tctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if ok {
			return nil
		}
		if err := sleep(ctx, min(time.Until(deadline), r.poll)); err != nil {
			return err
		}
	}
}

// attemptFunc makes one attempt of a check under a ctx bounded by the
// check's timeout, and says whether it passed and what it got.
type attemptFunc func(ctx context.Context) (ok bool, got string)

// attempts runs the attempts of a path, command or listening check. what
// prefixes what each attempt got in Detail (e.g. "GET /health"); request,
// when set, is the Result's Request, also shown on the line of a failed
// last attempt.
func (r *runner) attempts(ctx context.Context, p plan, what, request string, try attemptFunc) (Result, error) {
	h := p.check
	res := Result{Check: h}
	n := max(*h.Attempts, 1)
	timeout := r.seconds(h.Timeout)
	if timeout <= 0 {
		timeout = appfile.DefaultTimeout * r.unit
	}
	for i := 1; ; i++ {
		res.Attempts = i
		st, err := r.state(ctx)
		if err != nil {
			return r.cut(p, res, err)
		}
		var ok bool
		var got string
		if st.err != nil {
			got = "cannot inspect the container: " + oneLine(st.err.Error(), 200)
		} else {
			actx, cancel := context.WithTimeout(ctx, timeout)
			ok, got = try(actx)
			timedOut := errors.Is(actx.Err(), context.DeadlineExceeded)
			cancel()
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if !ok && timedOut {
				got = fmt.Sprintf("timed out after %s", timeout)
			}
		}
		detail := got
		if what != "" {
			detail = what + ": " + got
		}
		res.Request = request
		if ok {
			res.Passed, res.Detail = true, detail
			return res, nil
		}
		if i >= n {
			res.Detail = detail
			res.Warned = h.Warn
			line := p.short(detail)
			if request != "" {
				line += " (sent to " + request + ")"
			}
			if h.Warn {
				line += " (warn only)"
			}
			fmt.Fprintf(r.out, "       %s: %s (attempt %d/%d): %s\n", r.name, p.label, i, n, line)
			return res, nil
		}
		fmt.Fprintf(r.out, "       %s: %s (attempt %d/%d): %s\n", r.name, p.label, i, n, p.short(detail))
		if err := r.pause(ctx, r.seconds(h.Wait)); err != nil {
			return r.cut(p, res, err)
		}
	}
}

// uptime runs an uptime check: it polls State until the container has run
// p.uptime since its start, failing at once on a restart.
func (r *runner) uptime(ctx context.Context, p plan) (Result, error) {
	res := Result{Check: p.check, Attempts: 1}
	var first, since time.Time
	seen := false
	for {
		st, err := r.state(ctx)
		if err != nil {
			return r.cut(p, res, err)
		}
		if st.err != nil {
			return r.fail(p, res, "cannot inspect the container: "+oneLine(st.err.Error(), 200)), nil
		}
		if st.restarts > 0 {
			return r.fail(p, res, "restarted "+times(st.restarts)), nil
		}
		now := time.Now()
		if !seen {
			seen, first, since = true, st.startedAt, st.startedAt
			// An unknown start, or one in the future (clock skew),
			// counts from now.
			if since.IsZero() || since.After(now) {
				since = now
			}
		} else if !st.startedAt.Equal(first) {
			return r.fail(p, res, "restarted (started again at "+st.startedAt.UTC().Format(time.RFC3339)+")"), nil
		}
		up := now.Sub(since)
		if up >= p.uptime {
			res.Passed = true
			res.Detail = fmt.Sprintf("running for %s", up.Round(time.Millisecond))
			return res, nil
		}
		if err := sleep(ctx, min(p.uptime-up, r.poll)); err != nil {
			return res, err
		}
	}
}

// times returns "1 time" or "n times".
func times(n int) string {
	if n == 1 {
		return "1 time"
	}
	return strconv.Itoa(n) + " times"
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// await runs f in a goroutine and returns its value, or ctx.Err() as soon
// as ctx ends, even if f does not honour ctx (f then finishes unobserved).
func await[T any](ctx context.Context, f func() T) (T, error) {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// oneLine returns s with control characters (newlines included) and runs of
// spaces folded into single spaces, trimmed, and cut to at most max runes
// (marked by "...").
func oneLine(s string, maxRunes int) string {
	var b strings.Builder
	space := false
	for _, c := range s {
		if c < ' ' || c == 0x7f || c == ' ' || c == '\u2028' || c == '\u2029' || c == 0x85 {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(c)
	}
	out := b.String()
	if r := []rune(out); len(r) > maxRunes {
		out = string(r[:maxRunes-3]) + "..."
	}
	return out
}

// tail returns the end of a command's output on one line: its last
// non-empty lines joined by " | ", cut at the front to at most maxRunes.
func tail(output string, maxRunes int) string {
	var lines []string
	for l := range strings.SplitSeq(output, "\n") {
		if l = oneLine(l, 1<<20); l != "" {
			lines = append(lines, l)
		}
	}
	var kept []string
	n := 0
	for i := len(lines) - 1; i >= 0 && n < maxRunes; i-- {
		kept = append([]string{lines[i]}, kept...)
		n += len([]rune(lines[i])) + 3
	}
	out := strings.Join(kept, " | ")
	if r := []rune(out); len(r) > maxRunes {
		out = "..." + string(r[len(r)-(maxRunes-3):])
	}
	return out
}
