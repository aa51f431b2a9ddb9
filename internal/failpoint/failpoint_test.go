package failpoint

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

func TestMode(t *testing.T) {
	t.Setenv(Env, "upgrade-a, deploy-build=error,deploy-check=kill,deploy-x=bogus")
	for name, want := range map[string]string{
		"upgrade-a":    ModeError,
		"deploy-build": ModeError,
		"deploy-check": ModeKill,
		"deploy-x":     "", // an unknown mode arms nothing
		"deploy-start": "",
		"upgrade":      "",
	} {
		if got := Mode(name); got != want {
			t.Errorf("Mode(%q) = %q, want %q", name, got, want)
		}
	}
	err := Hit("deploy-build")
	if !errors.Is(err, ErrFailpoint) || err.Error() != "failpoint deploy-build" {
		t.Errorf("Hit = %v", err)
	}
	if err := Hit("deploy-start"); err != nil {
		t.Errorf("an unarmed point failed: %v", err)
	}
}

func TestUnsetAndFile(t *testing.T) {
	t.Setenv(Env, "")
	if err := Hit("deploy-build"); err != nil {
		t.Errorf("unset: %v", err)
	}
	file := filepath.Join(t.TempDir(), "fp")
	t.Setenv(Env, "@"+file)
	if Mode("a") != "" {
		t.Error("a missing file arms a point")
	}
	os.WriteFile(file, []byte("a=kill\nb\n"), 0o600)
	if Mode("a") != ModeKill || Mode("b") != ModeError {
		t.Errorf("from a file: a=%q b=%q", Mode("a"), Mode("b"))
	}
}

// TestKill runs this test binary again with a point armed to kill, and
// sees it die of SIGKILL.
func TestKill(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		Hit("here")
		os.Exit(0) // not reached
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", Env+"=here=kill")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("the child did not die: %v", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the child ended with %v, want SIGKILL", ee)
	}
}
