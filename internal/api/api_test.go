package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type echoReq struct {
	Text  string `json:"text"`
	Fail  string `json:"fail"`
	Lines int    `json:"lines"`
}

type echoResp struct {
	Upper string `json:"upper"`
}

var echoOp = Op[echoReq, echoResp]{"test.echo", AdminOnly}
var blockOp = Op[Empty, Empty]{"test.block", AdminOnly}

// serve starts a Mux with test handlers on a unix socket and returns both
// callers: the socket client and the Mux itself.
func serve(t *testing.T) (*Client, *Mux, *blockSignals) {
	t.Helper()
	sig := &blockSignals{started: make(chan struct{}, 1), cancelled: make(chan struct{}, 1)}
	started, cancelled := sig.started, sig.cancelled
	m := NewMux(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	Handle(m, echoOp, func(ctx context.Context, req echoReq, out Output) (echoResp, error) {
		for i := range req.Lines {
			fmt.Fprintf(out.Stdout, "line %d\n", i)
			fmt.Fprintf(out.Stderr, "err %d\n", i)
		}
		switch req.Fail {
		case "app":
			return echoResp{}, AppNotFound(req.Text)
		case "plain":
			return echoResp{}, errors.New("disk on fire")
		}
		return echoResp{Upper: strings.ToUpper(req.Text)}, nil
	})
	Handle(m, blockOp, func(ctx context.Context, _ Empty, _ Output) (Empty, error) {
		started <- struct{}{}
		<-ctx.Done()
		cancelled <- struct{}{}
		return Empty{}, ctx.Err()
	})
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return NewClient(sock), m, sig
}

// blockSignals reports when the block handler starts and sees cancellation.
type blockSignals struct{ started, cancelled chan struct{} }

func TestCallersAgree(t *testing.T) {
	t.Parallel()
	client, mux, _ := serve(t)
	for name, c := range map[string]Caller{"socket": client, "in-process": mux} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			resp, err := echoOp.Stream(context.Background(), c, echoReq{Text: "héllo\n\"x\"", Lines: 3}, Output{Stdout: &stdout, Stderr: &stderr})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Upper != "HÉLLO\n\"X\"" {
				t.Errorf("resp = %q", resp.Upper)
			}
			if stdout.String() != "line 0\nline 1\nline 2\n" || stderr.String() != "err 0\nerr 1\nerr 2\n" {
				t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
			}

			_, err = echoOp.Call(context.Background(), c, echoReq{Text: "shop", Fail: "app"})
			if !errors.Is(err, ErrAppNotFound) || err.Error() != "App shop does not exist" {
				t.Errorf("err = %v, want app not found", err)
			}
			if errors.Is(err, ErrInvalid) {
				t.Errorf("app-not-found error matches ErrInvalid")
			}
			_, err = echoOp.Call(context.Background(), c, echoReq{Fail: "plain"})
			if !errors.Is(err, ErrInternal) {
				t.Errorf("err = %v, want internal", err)
			}
			_, err = Op[Empty, Empty]{"test.nope", AdminOnly}.Call(context.Background(), c, Empty{})
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("unknown op: err = %v, want not found", err)
			}
		})
	}
}

func TestClientDisconnectCancelsHandler(t *testing.T) {
	t.Parallel()
	client, _, sig := serve(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := blockOp.Call(ctx, client, Empty{})
		done <- err
	}()
	select {
	case <-sig.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	cancel()
	select {
	case <-sig.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler's context was not cancelled after the client went away")
	}
	if err := <-done; err == nil {
		t.Fatal("cancelled call returned no error")
	}
}

func TestNotRunning(t *testing.T) {
	t.Parallel()
	c := NewClient(filepath.Join(t.TempDir(), "none.sock"))
	_, err := echoOp.Call(context.Background(), c, echoReq{})
	var nr *NotRunningError
	if !errors.Is(err, ErrDaemonNotRunning) || !errors.As(err, &nr) || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("err = %v, want not running naming the socket", err)
	}
}

// TestInProcessCallWithoutOutput: a handler that writes its output may be
// called in-process with none (a zero Output): the lines are discarded,
// nothing panics.
func TestInProcessCallWithoutOutput(t *testing.T) {
	_, m, _ := serve(t)
	resp, err := echoOp.Stream(context.Background(), m, echoReq{Text: "hi", Lines: 3}, Output{})
	if err != nil || resp.Upper != "HI" {
		t.Fatalf("%+v %v", resp, err)
	}
}
