// Package failpoint forces faults at named points of the daemon, for
// tests: BERTH_FAILPOINTS lists the points that fail (NAME or
// NAME=error) or kill the process on the spot (NAME=kill, a SIGKILL of
// itself, as a crash would). The list is comma-separated, or "@FILE" to
// read it from a file at each check (so a test can arm a point in a
// running daemon). Unset, as in production, a check is one Getenv.
package failpoint

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// Env is the variable that arms failpoints.
const Env = "BERTH_FAILPOINTS"

// Modes of an armed failpoint.
const (
	ModeError = "error"
	ModeKill  = "kill"
)

// ErrFailpoint is what an armed failpoint in error mode returns (wrapped,
// with its name).
var ErrFailpoint = errors.New("failpoint")

// Mode returns how failpoint name is armed ("" when it is not).
func Mode(name string) string {
	list := os.Getenv(Env)
	if list == "" {
		return ""
	}
	if file, ok := strings.CutPrefix(list, "@"); ok {
		b, _ := os.ReadFile(file)
		list = string(b)
	}
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == '\n' }) {
		n, mode, _ := strings.Cut(strings.TrimSpace(f), "=")
		if n != name {
			continue
		}
		switch mode {
		case "", ModeError:
			return ModeError
		case ModeKill:
			return ModeKill
		}
	}
	return ""
}

// Hit checks failpoint name: armed to kill, the process dies at once
// (no deferred function runs, nothing is flushed); armed to fail, it
// returns an error matching ErrFailpoint; otherwise nil.
func Hit(name string) error {
	switch Mode(name) {
	case ModeKill:
		Kill()
	case ModeError:
		return Error(name)
	}
	return nil
}

// Error is the error of failpoint name armed to fail: "failpoint NAME",
// matching ErrFailpoint.
func Error(name string) error {
	return &pointError{name: name}
}

type pointError struct{ name string }

func (e *pointError) Error() string { return "failpoint " + e.name }
func (e *pointError) Is(target error) bool {
	return target == ErrFailpoint
}

// Kill ends the process with SIGKILL, as a crash (or the OOM killer) would.
func Kill() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
