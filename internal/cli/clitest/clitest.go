// Package clitest is the test harness of the command packages (cli and
// the packages that register commands in its table): a fake daemon, an
// api.Caller that records every operation and answers from a table, and
// table-driven cases that run one command line against it and check the
// exit code, the operations sent, their requests and the output.
//
// It imports api, not cli, so that cli's own tests can use it too; each
// package passes a Runner that runs cli.Main against the fake.
package clitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/berthpaas/berth/internal/api"
)

// Reply is what the fake daemon answers to one operation: output frames
// first (as the daemon streams them), then the result or the error.
type Reply struct {
	Resp   any
	Stdout string
	Stderr string
	Err    error
	// ExitCode is the exit code of an interactive session's command.
	ExitCode int
}

// Call is one operation the command sent.
type Call struct {
	Op    string
	Req   json.RawMessage
	Stdin string // what a session read from stdin
}

// Fake is an api.Caller (and api.Sessioner) that records every operation
// with its request JSON and answers from a table. An operation without a
// reply fails the call with an internal error, so a test that forgets one
// sees it in the calls it asserts.
type Fake struct {
	// Answer, when set, is asked first and may answer by request.
	Answer func(op string, req []byte) (Reply, bool)

	mu      sync.Mutex
	replies map[string]Reply
	calls   []Call
}

var (
	_ api.Caller    = (*Fake)(nil)
	_ api.Sessioner = (*Fake)(nil)
)

// NewFake returns a fake daemon answering each operation from replies.
func NewFake(replies map[string]Reply) *Fake {
	if replies == nil {
		replies = map[string]Reply{}
	}
	return &Fake{replies: replies}
}

func (f *Fake) record(op string, req any, stdin string) (Reply, bool, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Op: op, Req: b, Stdin: stdin})
	if f.Answer != nil {
		if r, ok := f.Answer(op, b); ok {
			return r, true, nil
		}
	}
	r, ok := f.replies[op]
	return r, ok, nil
}

func (f *Fake) reply(r Reply, resp any, stdout, stderr io.Writer) error {
	if r.Stdout != "" && stdout != nil {
		io.WriteString(stdout, r.Stdout)
	}
	if r.Stderr != "" && stderr != nil {
		io.WriteString(stderr, r.Stderr)
	}
	if r.Err != nil {
		return r.Err
	}
	if resp == nil || r.Resp == nil {
		return nil
	}
	// Through JSON, as both real callers do.
	b, err := json.Marshal(r.Resp)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, resp)
}

// Call records op and answers it (api.Caller).
func (f *Fake) Call(_ context.Context, op string, req, resp any, out api.Output) error {
	r, ok, err := f.record(op, req, "")
	if err != nil {
		return err
	}
	if !ok {
		return api.Errorf(api.CodeInternal, "fake: no reply for %s", op)
	}
	return f.reply(r, resp, out.Stdout, out.Stderr)
}

// Session records op with what it read from stdin and answers it
// (api.Sessioner).
func (f *Fake) Session(_ context.Context, op string, req, resp any, s *api.Session) error {
	var in string
	if s.Stdin != nil {
		b, _ := io.ReadAll(s.Stdin)
		in = string(b)
	}
	r, ok, err := f.record(op, req, in)
	if err != nil {
		return err
	}
	if !ok {
		return api.Errorf(api.CodeInternal, "fake: no reply for %s", op)
	}
	if r.Resp == nil && r.ExitCode != 0 {
		r.Resp = api.RunResult{ExitCode: r.ExitCode}
	}
	return f.reply(r, resp, s.Stdout, s.Stderr)
}

// Ops returns the operations sent so far, in order.
func (f *Fake) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ops []string
	for _, c := range f.calls {
		ops = append(ops, c.Op)
	}
	return ops
}

// Last returns the last call of op.
func (f *Fake) Last(op string) (Call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].Op == op {
			return f.calls[i], true
		}
	}
	return Call{}, false
}

// Result is what one command line did.
type Result struct {
	Code   int
	Stdout string
	Stderr string
}

// Runner runs `berth ARGS...` against fake with stdin and no terminal
// (cli.Main with the fake as its caller and an empty environment).
type Runner func(fake *Fake, stdin string, args ...string) Result

// Case is one command line against the fake daemon, and what must come
// of it.
type Case struct {
	// Name names the subtest; the arguments joined when empty.
	Name    string
	Args    []string
	Stdin   string
	Replies map[string]Reply
	// Answer answers by request, before Replies.
	Answer func(op string, req []byte) (Reply, bool)
	// Code is the exit code wanted.
	Code int
	// Ops are the operations wanted, in order (none when empty).
	Ops []string
	// Reqs are the wanted request JSON of the last call of each op,
	// compared as JSON values.
	Reqs map[string]string
	// Stdout is the whole stdout wanted, unless Has is set instead.
	Stdout string
	// Has are strings stdout must contain (stdout is then not compared).
	Has []string
	// ErrLine, when set, is a part of the one ` !     ` line stderr must be.
	ErrLine string
	// Stderr is the whole stderr wanted when ErrLine is empty.
	Stderr string
}

// Run runs the case with run and checks what came of it.
func (tc Case) Run(t testing.TB, run Runner) {
	t.Helper()
	fake := NewFake(tc.Replies)
	fake.Answer = tc.Answer
	r := run(fake, tc.Stdin, tc.Args...)
	tc.Check(t, fake, r)
}

// Check compares what a command line did (r, and the calls fake saw) with
// what the case wants.
func (tc Case) Check(t testing.TB, fake *Fake, r Result) {
	t.Helper()
	if r.Code != tc.Code {
		t.Errorf("exit %d, want %d (stderr %q)", r.Code, tc.Code, r.Stderr)
	}
	if ops := fake.Ops(); !reflect.DeepEqual(ops, tc.Ops) {
		t.Errorf("ops = %q, want %q", ops, tc.Ops)
	}
	for op, want := range tc.Reqs {
		c, ok := fake.Last(op)
		if !ok {
			t.Errorf("no %s call", op)
			continue
		}
		JSONEqual(t, op+" request", string(c.Req), want)
	}
	if tc.Has != nil {
		for _, s := range tc.Has {
			if !strings.Contains(r.Stdout, s) {
				t.Errorf("stdout does not contain %q:\n%s", s, r.Stdout)
			}
		}
	} else if r.Stdout != tc.Stdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.Stdout, tc.Stdout)
	}
	if tc.ErrLine != "" {
		CheckErrLine(t, r.Stderr, tc.ErrLine)
	} else if r.Stderr != tc.Stderr {
		t.Errorf("stderr = %q, want %q", r.Stderr, tc.Stderr)
	}
}

// RunCases runs each case with run as a parallel subtest.
func RunCases(t *testing.T, run Runner, cases []Case) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		name := tc.Name
		if name == "" {
			name = strings.Join(tc.Args, " ")
		}
		if seen[name] {
			panic(fmt.Sprintf("duplicate case %q", name))
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.Run(t, run)
		})
	}
}

// CheckErrLine requires stderr to be exactly one Dokku error line holding
// want.
func CheckErrLine(t testing.TB, stderr, want string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, " !     ") || !strings.Contains(stderr, want) {
		t.Errorf("stderr = %q, want one ` !     ` line with %q", stderr, want)
	}
}

// JSONEqual compares two JSON texts as values.
func JSONEqual(t testing.TB, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("%s: bad JSON %q: %v", what, got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad wanted JSON %q: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// Terminal is a fake user's terminal (cli.Terminal) that counts how often
// it was put in raw mode and restored.
type Terminal struct{ Raw, Restored int }

// MakeRaw counts the call; the returned function counts the restore.
func (f *Terminal) MakeRaw() (func(), error) { f.Raw++; return func() { f.Restored++ }, nil }

// Size is always 24 rows by 80 columns.
func (f *Terminal) Size() (uint, uint, error) { return 24, 80, nil }

// Resizes delivers no resize.
func (f *Terminal) Resizes(context.Context) <-chan [2]uint {
	ch := make(chan [2]uint)
	close(ch)
	return ch
}
