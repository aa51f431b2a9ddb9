package appfile

import (
	"strings"
	"testing"
)

func TestBlankComments(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a": 1}`, `{"a": 1}`},
		{"{\n  // c\n  \"a\": 1\n}", "{\n      \n  \"a\": 1\n}"},
		{`{"a": /* x */ 1}`, `{"a":         1}`},
		{"{/* a\nb */}", "{    \n    }"},
		{`{"url": "https://x//y", "s": "/* not */"}`, `{"url": "https://x//y", "s": "/* not */"}`},
		{`{"q": "a\"//b"} // end`, `{"q": "a\"//b"}       `},
		{"{} //", "{}   "},
		{"{/* open", "{/* open"},
		{"/", "/"},
	} {
		got := string(blankComments([]byte(c.in)))
		if got != c.want {
			t.Errorf("blankComments(%q) = %q, want %q", c.in, got, c.want)
		}
		if len(got) != len(c.in) {
			t.Errorf("blankComments(%q) changed the length", c.in)
		}
	}
}

// Dokku's own test apps comment their scripts: the app.json of its python
// test app, as it is.
func TestAppJSONWithComments(t *testing.T) {
	doc := `{
  "scripts": {
    "dokku": {
      // this is a comment for the postdeploy script
      "postdeploy": "touch /app/postdeploy.test",
      // this is a comment for the predeploy script
      "predeploy": "touch /app/predeploy.test"
    }
  },
  /* a block
     comment */
  "logo": "https://raw.githubusercontent.com/dokku/dokku/master/docs/assets/dokku.png"
}`
	a, err := ParseAppJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if a.Scripts.Dokku.Predeploy != "touch /app/predeploy.test" || a.Scripts.Dokku.Postdeploy != "touch /app/postdeploy.test" {
		t.Errorf("scripts = %+v", a.Scripts.Dokku)
	}
	if _, err := ParseAppJSON([]byte("// only a comment\n")); err == nil || !strings.Contains(err.Error(), "file is empty") {
		t.Errorf("a comment alone: err = %v, want the empty-file line", err)
	}
}

// Blanking keeps the length and every line break (so errors point at the
// right place), changes nothing a second time, and never touches a string.
func FuzzBlankComments(f *testing.F) {
	for _, s := range []string{`{"a": 1} // x`, "{/* a\nb */}", `{"u": "http://x"}`, `"\\" // c`, "/*/", "//\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := blankComments([]byte(in))
		if len(out) != len(in) {
			t.Fatalf("length %d, want %d", len(out), len(in))
		}
		for i := range in {
			if (in[i] == '\n') != (out[i] == '\n') {
				t.Fatalf("line break moved at %d", i)
			}
			if out[i] != in[i] && out[i] != ' ' {
				t.Fatalf("byte %d became %q", i, out[i])
			}
		}
		if again := blankComments(out); string(again) != string(out) {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
	})
}
