package release

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t\n ", nil},
		{"a", []string{"a"}},
		{"  ./serve  --port 5000 ", []string{"./serve", "--port", "5000"}},
		{"a\tb\nc", []string{"a", "b", "c"}},
		// Single quotes: everything literal, including backslashes and $.
		{`'a b'`, []string{"a b"}},
		{`'a\b' '$HOME' '"x"'`, []string{`a\b`, "$HOME", `"x"`}},
		{`'a\'`, []string{`a\`}},
		// Double quotes: \" \\ \$ \` are escapes, other backslashes stay.
		{`"a b"`, []string{"a b"}},
		{`"a\"b"`, []string{`a"b`}},
		{`"a\\b"`, []string{`a\b`}},
		{`"\$HOME"`, []string{"$HOME"}},
		{"\"\\`x\\`\"", []string{"`x`"}},
		{`"a\nb"`, []string{`a\nb`}},
		{`"a\'b"`, []string{`a\'b`}},
		{`"it's"`, []string{"it's"}},
		{`"\\\""`, []string{`\"`}},
		// Backslash outside quotes escapes the next character.
		{`a\ b`, []string{"a b"}},
		{`\'x\'`, []string{"'x'"}},
		{`\"`, []string{`"`}},
		{`a\\b`, []string{`a\b`}},
		{`\$HOME`, []string{"$HOME"}},
		{`a\`, []string{`a\`}}, // a trailing backslash is kept
		// Empty quoted words.
		{`''`, []string{""}},
		{`""`, []string{""}},
		{`a '' b`, []string{"a", "", "b"}},
		{`'' ""`, []string{"", ""}},
		{`x ""`, []string{"x", ""}},
		// Adjacent parts join into one word.
		{`a'b'"c"`, []string{"abc"}},
		{`'a'"b"c d`, []string{"abc", "d"}},
		{`--opt="a b"`, []string{"--opt=a b"}},
		{`a''b`, []string{"ab"}},
		{`sh -c 'echo "$1" && exit 0' --`, []string{"sh", "-c", `echo "$1" && exit 0`, "--"}},
		// Non-ASCII passes through.
		{"héllo 'wörld'", []string{"héllo", "wörld"}},
	}
	for _, tc := range tests {
		got, err := splitWords(tc.in)
		if err != nil {
			t.Errorf("splitWords(%q): %v", tc.in, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("splitWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitWordsUnterminated(t *testing.T) {
	for _, in := range []string{
		`'`, `"`, `a 'b`, `a "b`, `'a''`, `"a""`, `"a\"`, `"\`, `a"b\\\"`, `'it''s`,
	} {
		got, err := splitWords(in)
		if err == nil {
			t.Errorf("splitWords(%q) = %q, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), "unterminated") {
			t.Errorf("splitWords(%q) error %q does not say unterminated", in, err)
		}
		if got != nil {
			t.Errorf("splitWords(%q) returned %q with an error", in, got)
		}
	}
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{
		"", "a b c", `a'b'"c"`, `''`, `"a\"b"`, `a\ b`, `'unterminated`, `"x\`, "a\tb\nc", `\`, `"\$\\\` + "`" + `"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := splitWords(s)
		if err != nil {
			if words != nil {
				t.Fatalf("splitWords(%q) returned %q with error %v", s, words, err)
			}
			if !strings.ContainsAny(s, `'"`) {
				t.Fatalf("splitWords(%q) failed without a quote in the input: %v", s, err)
			}
			return
		}
		// Without quotes and backslashes, words are just the blank-separated
		// fields.
		if !strings.ContainsAny(s, `'"\`) {
			fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' })
			if !slices.Equal(words, fields) {
				t.Fatalf("splitWords(%q) = %q, want %q", s, words, fields)
			}
		}
		for _, w := range words {
			if w == "" && !strings.ContainsAny(s, `'"`) {
				t.Fatalf("splitWords(%q) made an empty word without quotes: %q", s, words)
			}
		}
		// For inputs made only of [a-z ], the result is strings.Fields.
		simple := true
		for i := 0; i < len(s); i++ {
			if c := s[i]; c != ' ' && (c < 'a' || c > 'z') {
				simple = false
				break
			}
		}
		if simple && !slices.Equal(words, strings.Fields(s)) {
			t.Fatalf("splitWords(%q) = %q, want strings.Fields = %q", s, words, strings.Fields(s))
		}
	})
}
