package appfile

import "testing"

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "Procfile", Msg: "m"}, "Procfile: m"},
		{Error{File: "Procfile", Line: 3, Msg: "m"}, "Procfile line 3: m"},
		{Error{File: "app.json", Line: 4, Col: 18, Msg: "m"}, "app.json line 4 col 18: m"},
		{Error{File: "app.json", Col: 18, Msg: "m"}, "app.json: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestLineCol(t *testing.T) {
	data := []byte("ab\ncé\n\nx")
	tests := []struct{ off, line, col int }{
		{-1, 1, 1}, {0, 1, 1}, {1, 1, 2}, {2, 1, 3}, {3, 2, 1}, {4, 2, 2}, {6, 2, 3}, {7, 3, 1}, {8, 4, 1}, {9, 4, 2}, {100, 4, 2},
	}
	for _, tt := range tests {
		if line, col := lineCol(data, tt.off); line != tt.line || col != tt.col {
			t.Errorf("lineCol(%d) = %d:%d, want %d:%d", tt.off, line, col, tt.line, tt.col)
		}
	}
}

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\r\nb\n\nc", []string{"a", "b", "", "c"}},
		{"\n", []string{""}},
		{"a\r", []string{"a"}},
	}
	for _, tt := range tests {
		got := splitLines([]byte(tt.in))
		if len(got) != len(tt.want) {
			t.Errorf("splitLines(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("splitLines(%q) = %q, want %q", tt.in, got, tt.want)
			}
		}
	}
}
