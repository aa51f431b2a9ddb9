package docker

import (
	"bytes"
	"strings"
	"testing"
)

func TestStripEscapes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"plain text\n", "plain text\n"},
		{"\x1b[91mnpm WARN deprecated\x1b[0m\n", "npm WARN deprecated\n"},
		{"a\x1b[1;31;48;5;200mb\x1b[mc", "abc"},
		{"\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor"},
		{"\x1b]0;title\x07after", "after"},
		{"\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"\x1bPdevice\x1b\\x", "x"},
		{"\x1b(Bcharset", "charset"},
		{"\x1b7saved\x1b8", "saved"},
		{"unicode é ✓ \x1b[32m✓\x1b[0m", "unicode é ✓ ✓"},
		{"\x1b]unterminated\nnext line\n", "\nnext line\n"},
		{"\x1b[31\nbroken csi", "\nbroken csi"},
		{"tab\tand\rcr", "tab\tand\rcr"},
		{"end with ESC \x1b", "end with ESC "},
	} {
		// Every split into two writes gives the same text.
		for cut := 0; cut <= len(c.in); cut++ {
			var out bytes.Buffer
			w := StripEscapes(&out)
			n1, err1 := w.Write([]byte(c.in[:cut]))
			n2, err2 := w.Write([]byte(c.in[cut:]))
			if err1 != nil || err2 != nil || n1+n2 != len(c.in) {
				t.Fatalf("%q cut %d: wrote %d+%d, %v %v", c.in, cut, n1, n2, err1, err2)
			}
			if out.String() != c.want {
				t.Errorf("%q cut at %d: %q, want %q", c.in, cut, out.String(), c.want)
				break
			}
		}
		// Byte by byte.
		var out bytes.Buffer
		w := StripEscapes(&out)
		for i := range len(c.in) {
			w.Write([]byte{c.in[i]})
		}
		if out.String() != c.want {
			t.Errorf("%q byte by byte: %q, want %q", c.in, out.String(), c.want)
		}
	}
	// An unterminated OSC gives the text back after maxStringSeq bytes.
	var out bytes.Buffer
	StripEscapes(&out).Write([]byte("\x1b]" + strings.Repeat("x", maxStringSeq+10)))
	if out.Len() == 0 || out.Len() > 10 {
		t.Errorf("unterminated OSC: %d bytes of text kept, want the few past the cap", out.Len())
	}
}
