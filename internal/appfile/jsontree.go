package appfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The app.json parser first lets encoding/json validate the document (for
// its syntax errors and their offsets), then builds a small tree that
// remembers where every value starts, so that a value of the wrong type or
// range can be reported at its line and column.

type jsonKind int

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	switch k {
	case jsonBool:
		return "a boolean"
	case jsonNumber:
		return "a number"
	case jsonString:
		return "a string"
	case jsonArray:
		return "a list"
	case jsonObject:
		return "an object"
	default:
		return "null"
	}
}

type jsonNode struct {
	kind jsonKind
	off  int    // byte offset where the value starts
	b    bool   // jsonBool
	s    string // jsonString value, or jsonNumber literal
	arr  []*jsonNode
	obj  []jsonMember
}

type jsonMember struct {
	key    string
	keyOff int
	val    *jsonNode
}

type jsonDoc struct {
	file string
	data []byte
}

// errAt returns an *Error positioned at byte offset off.
func (d *jsonDoc) errAt(off int, format string, args ...any) *Error {
	line, col := lineCol(d.data, off)
	return &Error{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// where describes an offset as "line L col C" for messages.
func (d *jsonDoc) where(off int) string {
	line, col := lineCol(d.data, off)
	return fmt.Sprintf("line %d col %d", line, col)
}

// parse validates data and returns its tree.
func (d *jsonDoc) parse() (*jsonNode, error) {
	var raw json.RawMessage
	if err := json.Unmarshal(d.data, &raw); err != nil {
		return nil, d.syntaxError(err)
	}
	dec := json.NewDecoder(bytes.NewReader(d.data))
	dec.UseNumber()
	t := &jsonTokens{dec: dec, data: d.data}
	n, err := t.value()
	if err != nil {
		// The document was valid a moment ago: this cannot happen, but a
		// parser must not panic on what it reads.
		return nil, d.errAt(0, "invalid JSON: %s", err)
	}
	return n, nil
}

func (d *jsonDoc) syntaxError(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the bytes read, including the offending one.
		off := int(se.Offset)
		if off > 0 && off <= len(d.data) && strings.HasPrefix(se.Error(), "invalid character") {
			off--
		}
		return d.errAt(off, "invalid JSON: %s", se.Error())
	}
	return d.errAt(len(d.data), "invalid JSON: %s", err)
}

type jsonTokens struct {
	dec  *json.Decoder
	data []byte
}

// next returns the next token and the offset where it starts.
func (t *jsonTokens) next() (json.Token, int, error) {
	off := int(t.dec.InputOffset())
	for off < len(t.data) {
		switch t.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	tok, err := t.dec.Token()
	return tok, off, err
}

func (t *jsonTokens) value() (*jsonNode, error) {
	tok, off, err := t.next()
	if err != nil {
		return nil, err
	}
	return t.fromToken(tok, off)
}

func (t *jsonTokens) fromToken(tok json.Token, off int) (*jsonNode, error) {
	n := &jsonNode{off: off}
	switch v := tok.(type) {
	case nil:
		n.kind = jsonNull
	case bool:
		n.kind, n.b = jsonBool, v
	case json.Number:
		n.kind, n.s = jsonNumber, string(v)
	case string:
		n.kind, n.s = jsonString, v
	case json.Delim:
		switch v {
		case '[':
			n.kind = jsonArray
			for t.dec.More() {
				el, err := t.value()
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, el)
			}
			if _, _, err := t.next(); err != nil { // ']'
				return nil, err
			}
		case '{':
			n.kind = jsonObject
			for t.dec.More() {
				ktok, koff, err := t.next()
				if err != nil {
					return nil, err
				}
				key, ok := ktok.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				val, err := t.value()
				if err != nil {
					return nil, err
				}
				n.obj = append(n.obj, jsonMember{key: key, keyOff: koff, val: val})
			}
			if _, _, err := t.next(); err != nil { // '}'
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected %q", v)
		}
	default:
		return nil, fmt.Errorf("unexpected token %v", tok)
	}
	return n, nil
}

// Helpers to read typed values with a path for messages. A JSON null is
// treated as an absent value, as encoding/json does.

// fields matches the members of object n against the known field names,
// exactly or else case-insensitively (as encoding/json does). Unknown members
// are ignored; a field given twice is an error.
func (d *jsonDoc) fields(n *jsonNode, path string, known ...string) (map[string]*jsonNode, error) {
	out := map[string]*jsonNode{}
	at := map[string]int{}
	for _, m := range n.obj {
		name := ""
		for _, k := range known {
			if m.key == k {
				name = k
				break
			}
		}
		if name == "" {
			for _, k := range known {
				if strings.EqualFold(m.key, k) {
					name = k
					break
				}
			}
		}
		if name == "" {
			continue
		}
		if first, dup := at[name]; dup {
			return nil, d.errAt(m.keyOff, "%s is given twice (first at %s)", join(path, name), d.where(first))
		}
		at[name] = m.keyOff
		if m.val.kind != jsonNull {
			out[name] = m.val
		}
	}
	return out, nil
}

// join appends a field name to a dotted path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func (d *jsonDoc) wantKind(n *jsonNode, path string, k jsonKind) error {
	if n.kind != k {
		return d.errAt(n.off, "%s must be %s, not %s", path, k, n.kind)
	}
	return nil
}

func (d *jsonDoc) str(n *jsonNode, path string) (string, error) {
	if err := d.wantKind(n, path, jsonString); err != nil {
		return "", err
	}
	return n.s, nil
}

// text reads a string that will reach a process (a command, a value): it
// must be valid UTF-8 without control characters other than tab.
func (d *jsonDoc) text(n *jsonNode, path string) (string, error) {
	s, err := d.str(n, path)
	if err != nil {
		return "", err
	}
	if why := checkText(s); why != "" {
		return "", d.errAt(n.off, "%s %s", path, why)
	}
	return s, nil
}

func (d *jsonDoc) boolean(n *jsonNode, path string) (bool, error) {
	if n.kind != jsonBool {
		return false, d.errAt(n.off, "%s must be true or false, not %s", path, n.kind)
	}
	return n.b, nil
}

// maxJSONInt bounds the integers app.json accepts (counts and seconds).
const maxJSONInt = 1<<31 - 1

// nonNegInt reads a whole number in 0..maxJSONInt. "2.0", "1e2" and
// negative numbers are refused, as Go's decoding into an int would.
func (d *jsonDoc) nonNegInt(n *jsonNode, path string) (int, error) {
	if n.kind == jsonNumber {
		v, err := strconv.ParseInt(n.s, 10, 64)
		if err == nil && v >= 0 && v <= maxJSONInt {
			return int(v), nil
		}
		if err == nil && v > maxJSONInt || errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(n.s, "-") {
			return 0, d.errAt(n.off, "%s is too large (at most %d)", path, maxJSONInt)
		}
	}
	return 0, d.errAt(n.off, "%s must be a non-negative integer", path)
}
