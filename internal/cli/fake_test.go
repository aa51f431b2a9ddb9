package cli

import (
	"bytes"
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

// reply is what the fake daemon answers to one operation: output frames
// first (as the daemon streams them), then the result or the error.
type reply struct {
	Resp   any
	Stdout string
	Stderr string
	Err    error
	// ExitCode is the exit code of an interactive session's command.
	ExitCode int
}

// call is one operation the command sent.
type call struct {
	Op    string
	Req   json.RawMessage
	Stdin string // what a session read from stdin
}

// fakeAPI is an api.Caller (and api.Sessioner) that records every
// operation with its request JSON and answers from a table. An operation
// without a reply fails the call with an internal error, so a test that
// forgets one sees it in the calls it asserts.
type fakeAPI struct {
	mu      sync.Mutex
	replies map[string]reply
	// answer, when set, is asked first and may answer by request.
	answer func(op string, req []byte) (reply, bool)
	calls  []call
}

var (
	_ api.Caller    = (*fakeAPI)(nil)
	_ api.Sessioner = (*fakeAPI)(nil)
)

func newFake(replies map[string]reply) *fakeAPI {
	if replies == nil {
		replies = map[string]reply{}
	}
	return &fakeAPI{replies: replies}
}

func (f *fakeAPI) record(op string, req any, stdin string) (reply, bool, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return reply{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{Op: op, Req: b, Stdin: stdin})
	if f.answer != nil {
		if r, ok := f.answer(op, b); ok {
			return r, true, nil
		}
	}
	r, ok := f.replies[op]
	return r, ok, nil
}

func (f *fakeAPI) reply(r reply, resp any, stdout, stderr io.Writer) error {
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

func (f *fakeAPI) Call(_ context.Context, op string, req, resp any, out api.Output) error {
	r, ok, err := f.record(op, req, "")
	if err != nil {
		return err
	}
	if !ok {
		return api.Errorf(api.CodeInternal, "fake: no reply for %s", op)
	}
	return f.reply(r, resp, out.Stdout, out.Stderr)
}

func (f *fakeAPI) Session(_ context.Context, op string, req, resp any, s *api.Session) error {
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

func (f *fakeAPI) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ops []string
	for _, c := range f.calls {
		ops = append(ops, c.Op)
	}
	return ops
}

// last returns the last call of op.
func (f *fakeAPI) last(op string) (call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].Op == op {
			return f.calls[i], true
		}
	}
	return call{}, false
}

// result is what one command line did.
type result struct {
	code   int
	stdout string
	stderr string
}

// runCLI runs `berth ARGS...` against fake with stdin and no terminal.
func runCLI(fake *fakeAPI, stdin string, args ...string) result {
	return runEnv(fake, Env{Stdin: strings.NewReader(stdin)}, args...)
}

// runEnv runs `berth ARGS...` with env, filling in the streams, the fake
// caller and an empty environment.
func runEnv(fake *fakeAPI, env Env, args ...string) result {
	var out, errb bytes.Buffer
	env.Stdout, env.Stderr = &out, &errb
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if fake != nil {
		env.Caller = fake
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	code := Main(context.Background(), append([]string{"berth"}, args...), env)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// cliCase is one command line against the fake daemon, and what must come
// of it.
type cliCase struct {
	name    string
	args    []string
	stdin   string
	replies map[string]reply
	// answer answers by request, before replies.
	answer func(op string, req []byte) (reply, bool)
	// code is the exit code wanted.
	code int
	// ops are the operations wanted, in order (none when empty).
	ops []string
	// reqs are the wanted request JSON of the last call of each op,
	// compared as JSON values.
	reqs map[string]string
	// stdout is the whole stdout wanted, unless has is set instead.
	stdout string
	// has are strings stdout must contain (stdout is then not compared).
	has []string
	// errLine, when set, is a part of the one ` !     ` line stderr must be.
	errLine string
	// stderr is the whole stderr wanted when errLine is empty.
	stderr string
}

func (tc cliCase) run(t *testing.T) {
	t.Helper()
	fake := newFake(tc.replies)
	fake.answer = tc.answer
	r := runCLI(fake, tc.stdin, tc.args...)
	tc.check(t, fake, r)
}

func (tc cliCase) check(t *testing.T, fake *fakeAPI, r result) {
	t.Helper()
	if r.code != tc.code {
		t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
	}
	if ops := fake.ops(); !reflect.DeepEqual(ops, tc.ops) {
		t.Errorf("ops = %q, want %q", ops, tc.ops)
	}
	for op, want := range tc.reqs {
		c, ok := fake.last(op)
		if !ok {
			t.Errorf("no %s call", op)
			continue
		}
		jsonEqual(t, op+" request", string(c.Req), want)
	}
	if tc.has != nil {
		for _, s := range tc.has {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("stdout does not contain %q:\n%s", s, r.stdout)
			}
		}
	} else if r.stdout != tc.stdout {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, tc.stdout)
	}
	if tc.errLine != "" {
		checkErrLine(t, r.stderr, tc.errLine)
	} else if r.stderr != tc.stderr {
		t.Errorf("stderr = %q, want %q", r.stderr, tc.stderr)
	}
}

// checkErrLine requires stderr to be exactly one Dokku error line holding
// want.
func checkErrLine(t *testing.T, stderr, want string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, " !     ") || !strings.Contains(stderr, want) {
		t.Errorf("stderr = %q, want one ` !     ` line with %q", stderr, want)
	}
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(t *testing.T, what, got, want string) {
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

// runCases runs each case as a parallel subtest.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		name := tc.name
		if name == "" {
			name = strings.Join(tc.args, " ")
		}
		if seen[name] {
			panic(fmt.Sprintf("duplicate case %q", name))
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tc.run(t)
		})
	}
}

// TestFakeAPIAnswers checks the fake itself: a missing reply is an error,
// and frames arrive before the result.
func TestFakeAPIAnswers(t *testing.T) {
	t.Parallel()
	f := newFake(map[string]reply{"apps.info": {Resp: api.AppInfo{Name: "shop", Locked: true}, Stdout: "x"}})
	var out bytes.Buffer
	info, err := api.AppsInfo.Stream(context.Background(), f, api.AppRef{App: "shop"}, api.Output{Stdout: &out})
	if err != nil || info.Name != "shop" || !info.Locked || out.String() != "x" {
		t.Errorf("info = %+v, %v, out %q", info, err, out.String())
	}
	if _, err := api.AppsList.Call(context.Background(), f, api.Empty{}); err == nil {
		t.Error("no error for an op without a reply")
	}
	if got := f.ops(); !reflect.DeepEqual(got, []string{"apps.info", "apps.list"}) {
		t.Errorf("ops = %q", got)
	}
}
