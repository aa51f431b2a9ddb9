package appfile

import (
	"strings"
	"testing"
)

func TestRenderChecks(t *testing.T) {
	vars := map[string]string{"HC": "/healthcheck", "WAIT": "2"}
	for _, c := range []struct{ in, want, err string }{
		{"/ ok\n", "/ ok\n", ""},
		{"WAIT={{ var \"WAIT\" }}\n{{ var \"HC\" }} {{ var \"HC\" }}\n", "WAIT=2\n/healthcheck /healthcheck\n", ""},
		{"{{ var \"UNSET\" }}/x\n", "/x\n", ""},
		{"{{ if eq (var \"WAIT\") \"2\" }}/two{{ end }}\n", "/two\n", ""},
		{"/\n{{ var }}\n", "", `CHECKS line 2: template: executing "CHECKS" at <var>: wrong number of args for var: want 1 got 0`},
		{"/\n\n{{ nope }}\n", "", `CHECKS line 3: template: function "nope" not defined`},
		{"{{ if }}", "", "CHECKS line 1: template: missing value for if"},
		{`{{ printf "%02000000d" 0 }}`, "", "CHECKS: the templates expand to more than 1 MiB"},
		{`{{ range (printf "%0500d" 0) }}{{ end }}`, "", "CHECKS line 1: template: executing \"CHECKS\" at <0>: range can't iterate over 0000"},
	} {
		got, err := RenderChecks([]byte(c.in), vars)
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) || strings.Contains(err.Error(), "\n") || len(err.Error()) > 300 {
				t.Errorf("RenderChecks(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("RenderChecks(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func FuzzRenderChecks(f *testing.F) {
	for _, s := range []string{"{{ var \"X\" }}", "/ ok", "{{ if }}", "{{ range . }}x{{ end }}", "{{ printf \"%q\" (var \"X\") }}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := RenderChecks(data, map[string]string{"X": "{{"})
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("two-line error %q", err)
			}
			return
		}
		if len(out) > maxRenderedChecks {
			t.Errorf("%d bytes", len(out))
		}
		ParseChecks(out) // must not panic
	})
}
