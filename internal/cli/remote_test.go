package cli

import (
	"bytes"
	"sync/atomic"
	"testing"
)

// TestOnlcr: Berth's lines get CRLF on a remote pty in cooked mode, and
// bytes pass untouched while a command holds the terminal raw.
func TestOnlcr(t *testing.T) {
	var buf bytes.Buffer
	raw := new(atomic.Bool)
	w := onlcrWriter{w: &buf, raw: raw}
	term := ptyTerminal{raw: raw}
	if n, err := w.Write([]byte("=====> one\ntwo\n")); n != 15 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	restore, _ := term.MakeRaw()
	w.Write([]byte("raw\n"))
	restore()
	w.Write([]byte("cooked\n"))
	if got, want := buf.String(), "=====> one\r\ntwo\r\nraw\ncooked\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
