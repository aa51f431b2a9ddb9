package appfile

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// File names as they appear in error messages.
const (
	ProcfileName   = "Procfile"
	AppJSONName    = "app.json"
	ScaleFileName  = "DOKKU_SCALE"
	ChecksFileName = "CHECKS"
)

// Error is a problem found in one of the app's files. Line and Col are
// 1-based; 0 means unknown or not meaningful (Col is only set for app.json).
// Msg never contains a newline, so Error() is always one line.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error formats the problem as "FILE line L col C: MSG", leaving out the
// parts that are zero.
func (e *Error) Error() string {
	switch {
	case e.Line <= 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Col <= 0:
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s line %d col %d: %s", e.File, e.Line, e.Col, e.Msg)
	}
}

func lineErr(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// utf8BOM is stripped from the start of every file: editors on Windows add
// it, and it is never meaningful in these formats.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func stripBOM(data []byte) []byte {
	return bytes.TrimPrefix(data, utf8BOM)
}

// lineCol converts a byte offset in data to a 1-based line and a 1-based
// column counted in characters (runes), as editors show them.
func lineCol(data []byte, off int) (line, col int) {
	off = max(0, min(off, len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	col = utf8.RuneCount(before[start:]) + 1
	return line, col
}

// splitLines splits data into lines without their "\n" or "\r\n" endings.
// A final line without a newline is kept; an empty trailing piece after the
// last newline is not a line.
func splitLines(data []byte) []string {
	data = stripBOM(data)
	var lines []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var l []byte
		if i < 0 {
			l, data = data, nil
		} else {
			l, data = data[:i], data[i+1:]
		}
		l = bytes.TrimSuffix(l, []byte{'\r'})
		lines = append(lines, string(l))
	}
	return lines
}

// checkText reports why s cannot be used as text in a command or value:
// invalid UTF-8 or a control character other than tab. It returns "" when s
// is fine.
func checkText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("contains the control character %U", r)
		}
	}
	return ""
}
