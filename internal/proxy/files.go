package proxy

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// What a proxy holds alone: the state file (by a lock next to it) and the
// control socket. A proxy taking over gets them once the old one let go.

// open takes the state file's lock (waiting, after a hand-over, for the old
// proxy to let it go), loads the state file's routes if restore, and
// listens on the control socket.
func (s *server) open(restore bool) error {
	if s.cfg.StateFile != "" {
		wait := time.Duration(0)
		if !restore {
			wait = handoverTimeout
		}
		unlock, err := lockStateWait(s.cfg.StateFile, wait)
		if err != nil {
			return err
		}
		s.ho.unlock = unlock
		if restore {
			if err := s.restore(); err != nil {
				return err
			}
		}
	}
	ctl, err := listenControl(s.cfg.ControlSocket)
	if err != nil {
		return err
	}
	s.ho.ctl = ctl
	return nil
}

// lockStateWait is lockState, retried for up to wait.
func lockStateWait(stateFile string, wait time.Duration) (func(), error) {
	deadline := time.Now().Add(wait)
	for {
		unlock, err := lockState(stateFile)
		if err == nil || time.Now().After(deadline) {
			return unlock, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockState takes an exclusive lock next to the state file, so two proxies
// never write one table.
func lockState(stateFile string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(stateFile), 0o700); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	path := stateFile + ".lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("proxy: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("proxy: another proxy is running with state file %s", stateFile)
		}
		return nil, fmt.Errorf("proxy: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// listenControl listens on the control socket, mode 0600. A socket file
// nobody answers on is stale (a crash) and replaced.
func listenControl(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("proxy: another proxy answers on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("proxy: remove stale socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return ln, nil
}
