//go:build linux

package sshserver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// openPTY opens a pseudo-terminal pair without cgo.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var n uint32
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Skipf("TIOCGPTN: %v", err)
	}
	var unlock int32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Skipf("TIOCSPTLCK: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

func setWinsize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	ws := struct{ Row, Col, X, Y uint16 }{rows, cols, 0, 0}
	if err := ioctl(f, syscall.TIOCSWINSZ, unsafe.Pointer(&ws)); err != nil {
		t.Fatalf("TIOCSWINSZ: %v", err)
	}
}

func TestPTYAndWindowChange(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(ctx context.Context, s *Session) int {
		if s.PTY == nil || s.Resize == nil {
			fmt.Fprintf(s.Stderr, "no pty\n")
			return 2
		}
		fmt.Fprintf(s.Stdout, "term=%s size=%dx%d\r\n", s.PTY.Term, s.PTY.Height, s.PTY.Width)
		fmt.Fprintf(s.Stderr, "from stderr\r\n")
		select {
		case hw := <-s.Resize:
			fmt.Fprintf(s.Stdout, "resize=%dx%d\r\n", hw[0], hw[1])
			return 3
		case <-time.After(5 * time.Second):
			fmt.Fprintf(s.Stdout, "no resize\r\n")
			return 4
		case <-ctx.Done():
			return 5
		}
	})

	_, tty := openPTY(t)
	setWinsize(t, tty, 33, 111)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := ts.command(ctx, ts.key, "berth", []string{"-tt"}, "run", "shop", "bash")
	cmd.Env = append(cmd.Env, "TERM=xterm-256color")
	cmd.Stdin = tty // ssh takes the window size from its stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	out := bufio.NewReader(stdout)
	if line := readUntil(t, out, "term="); !strings.Contains(line, "term=xterm-256color size=33x111\r\n") {
		t.Errorf("pty line %q", line)
	}
	if line := readUntil(t, out, "from stderr"); line != "from stderr\r\n" {
		t.Errorf("stderr line %q (want it on the terminal stream)", line)
	}

	// Resize the terminal; ssh reads the new size on SIGWINCH.
	setWinsize(t, tty, 50, 160)
	cmd.Process.Signal(syscall.SIGWINCH)
	if line := readUntil(t, out, "resize="); line != "resize=50x160\r\n" {
		t.Errorf("resize line %q", line)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("client: %v, want exit status 3; stderr %q", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "from stderr") {
		t.Errorf("stderr went to a separate stream with a PTY: %q", stderr.String())
	}
	ts.logs.waitFor(t, "pty=true")
}

// A handler that ignores Resize must not stall the connection, however
// often the terminal is resized.
func TestIgnoredResizeDoesNotBlock(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(ctx context.Context, s *Session) int {
		fmt.Fprintf(s.Stdout, "ready\r\n")
		buf := make([]byte, 1)
		for {
			if _, err := s.Stdin.Read(buf); err != nil {
				return 1
			}
			if buf[0] == 'q' {
				fmt.Fprintf(s.Stdout, "bye\r\n")
				return 0
			}
		}
	})
	master, tty := openPTY(t)
	setWinsize(t, tty, 24, 80)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := ts.command(ctx, ts.key, "berth", []string{"-tt"}, "run", "shop", "bash")
	cmd.Stdin = tty
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := bufio.NewReader(stdout)
	readUntil(t, out, "ready")
	for i := range 40 {
		setWinsize(t, tty, uint16(25+i), 80)
		cmd.Process.Signal(syscall.SIGWINCH)
		time.Sleep(5 * time.Millisecond)
	}
	// Typed on the terminal: reaches the handler's Stdin.
	master.Write([]byte("q"))
	readUntil(t, out, "bye")
	if err := cmd.Wait(); err != nil {
		t.Errorf("client: %v", err)
	}
}
