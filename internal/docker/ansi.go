package docker

import "io"

// StripEscapes returns a writer that passes what is written to w without
// terminal escape sequences: CSI (ESC [ ... final, colours and cursor
// moves), OSC (ESC ] ... BEL or ESC \, titles and links), the other string
// sequences (DCS, SOS, PM, APC) and two-byte escapes. A sequence split
// across writes is still removed. Only 7-bit escapes are recognised: the
// 8-bit C1 bytes are UTF-8 continuation bytes in the text Berth relays.
//
// The engine's classic builder colours the RUN steps' stderr (ESC[91m ...
// ESC[0m); relayed through a git push these reach the user as raw
// "[91m" text, so build output is always stripped (as Dokku's users see it).
func StripEscapes(w io.Writer) io.Writer { return &escapeStripper{w: w} }

// maxStringSeq ends an unterminated OSC/DCS sequence: past it (or at a
// newline) the text is taken to be text again.
const maxStringSeq = 4096

type escState uint8

const (
	escGround    escState = iota
	escEsc                // after ESC
	escInter              // ESC, intermediates (0x20-0x2F)
	escCSI                // ESC [
	escString             // ESC ] (OSC), ESC P/X/^/_ : until BEL or ESC \
	escStringEsc          // ESC inside a string sequence
)

type escapeStripper struct {
	w     io.Writer
	state escState
	n     int // bytes of the current string sequence
	buf   []byte
}

func (s *escapeStripper) Write(p []byte) (int, error) {
	s.buf = s.buf[:0]
	for _, b := range p {
		s.step(b)
	}
	if len(s.buf) > 0 {
		if _, err := s.w.Write(s.buf); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// step advances the state machine by one byte, keeping the text.
func (s *escapeStripper) step(b byte) {
	switch s.state {
	case escGround:
		if b == 0x1b {
			s.state = escEsc
			return
		}
		s.buf = append(s.buf, b)
	case escEsc:
		switch {
		case b == '[':
			s.state = escCSI
		case b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_':
			s.state, s.n = escString, 0
		case b >= 0x20 && b <= 0x2f:
			s.state = escInter
		case b >= 0x30 && b <= 0x7e:
			s.state = escGround
		default: // not an escape after all: drop the ESC, keep the byte
			s.state = escGround
			s.step(b)
		}
	case escInter:
		switch {
		case b >= 0x20 && b <= 0x2f:
		case b >= 0x30 && b <= 0x7e:
			s.state = escGround
		default:
			s.state = escGround
			s.step(b)
		}
	case escCSI:
		switch {
		case b >= 0x20 && b <= 0x3f: // parameters, intermediates
		case b >= 0x40 && b <= 0x7e: // final byte
			s.state = escGround
		default: // malformed: the sequence ends here
			s.state = escGround
			s.step(b)
		}
	case escString, escStringEsc:
		s.n++
		switch {
		case b == 0x07 || (s.state == escStringEsc && b == '\\'):
			s.state = escGround
		case b == 0x1b:
			s.state = escStringEsc
		case b == '\n' || s.n > maxStringSeq: // unterminated
			s.state = escGround
			s.step(b)
		default:
			s.state = escString
		}
	}
}
