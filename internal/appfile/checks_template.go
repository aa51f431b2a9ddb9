package appfile

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"
)

// ChecksHasTemplates reports whether a CHECKS file uses templates
// ({{ var "NAME" }}), which RenderChecks expands.
func ChecksHasTemplates(data []byte) bool {
	return bytes.Contains(data, []byte("{{"))
}

// maxRenderedChecks bounds what a CHECKS template may expand to.
const maxRenderedChecks = 1 << 20

// templateErrRE takes apart text/template's "template: CHECKS:5:12: msg".
var templateErrRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?(.*)$`) })

// RenderChecks expands the templates of a CHECKS file as Dokku does (it
// renders the file with sigil before reading it): {{ var "NAME" }} is the
// app's config value NAME, empty when unset; Go's template actions (if,
// eq, printf...) work too. A file without templates is returned as is.
// vars nil checks the templates' syntax only.
func RenderChecks(data []byte, vars map[string]string) ([]byte, error) {
	if !ChecksHasTemplates(data) {
		return data, nil
	}
	t, err := template.New(ChecksFileName).Funcs(template.FuncMap{
		"var": func(name string) string { return vars[name] },
	}).Parse(string(stripBOM(data)))
	if err != nil {
		return nil, templateErr(err)
	}
	var out limitedBuffer
	if err := t.Execute(&out, nil); err != nil {
		return nil, templateErr(err)
	}
	return out.Bytes(), nil
}

func templateErr(err error) error {
	var own *Error
	if errors.As(err, &own) {
		return own
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if m := templateErrRE().FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return lineErr(ChecksFileName, line, "template: %s", m[2])
	}
	return &Error{File: ChecksFileName, Msg: msg}
}

// limitedBuffer refuses to grow past maxRenderedChecks.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRenderedChecks {
		return 0, &Error{File: ChecksFileName, Msg: "the templates expand to more than 1 MiB"}
	}
	return b.Buffer.Write(p)
}
