package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

type catResp struct {
	Bytes int      `json:"bytes"`
	Sizes []string `json:"sizes"`
}

var catOp = SessionOp[echoReq, catResp]{"test.cat", AdminOnly}

func TestSessionStreamsBothWays(t *testing.T) {
	t.Parallel()
	m := NewMux(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	HandleSession(m, catOp, func(ctx context.Context, req echoReq, s *Session) (catResp, error) {
		var res catResp
		if req.Fail == "app" {
			return res, AppNotFound(req.Text)
		}
		// Wait for the one resize the test sends before reading input.
		if sz, ok := <-s.Resize; ok {
			res.Sizes = append(res.Sizes, fmt.Sprintf("%dx%d", sz[0], sz[1]))
		}
		b, err := io.ReadAll(s.Stdin)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(s.Stdout, "%s", bytes.ToUpper(b))
		fmt.Fprintf(s.Stderr, "%s:%d", req.Text, len(b))
		res.Bytes = len(b)
		return res, nil
	})
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	input := strings.Repeat("hello session\n", 10000) // larger than one frame
	for name, c := range map[string]Caller{"socket": NewClient(sock), "in-process": m} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			resize := make(chan [2]uint, 1)
			resize <- [2]uint{24, 80}
			res, err := catOp.Run(context.Background(), c, echoReq{Text: "tag"}, &Session{Stdin: strings.NewReader(input), Stdout: &out, Stderr: &errb, Resize: resize})
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != strings.ToUpper(input) || res.Bytes != len(input) {
				t.Errorf("echoed %d bytes (res %d), want %d", out.Len(), res.Bytes, len(input))
			}
			if errb.String() != fmt.Sprintf("tag:%d", len(input)) {
				t.Errorf("stderr = %q", errb.String())
			}
			if len(res.Sizes) != 1 || res.Sizes[0] != "24x80" {
				t.Errorf("sizes = %v, want [24x80]", res.Sizes)
			}
			_, err = catOp.Run(context.Background(), c, echoReq{Text: "shop", Fail: "app"}, &Session{Stdout: &out, Stderr: &errb})
			if err == nil || err.Error() != "App shop does not exist" {
				t.Errorf("err = %v, want app not found", err)
			}
		})
	}
}
