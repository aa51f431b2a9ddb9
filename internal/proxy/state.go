package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// stateVersion is the format of the state file; a newer one is refused
// rather than misread.
const stateVersion = 1

type stateFile struct {
	Version int     `json:"version"`
	Routes  []Route `json:"routes"`
}

// loadState reads the routes saved in path. A missing file is an empty
// table. A file that cannot be decoded is moved aside (path.corrupt) and
// the proxy starts empty: the daemon pushes the whole table when it starts,
// and a proxy that refuses to start would serve nothing either.
func loadState(path string) ([]Route, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, &corruptStateError{path: path, err: err}
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("state file %s has format version %d; this proxy reads version %d", path, st.Version, stateVersion)
	}
	return st.Routes, nil
}

type corruptStateError struct {
	path string
	err  error
}

func (e *corruptStateError) Error() string {
	return fmt.Sprintf("state file %s is corrupt: %v", e.path, e.err)
}

// saveState writes routes to path atomically: a temporary file in the same
// directory renamed over it, so a reader (a proxy starting, or taking over
// from this one) sees the old table or the new, whole. On error the old
// file is untouched.
//
// The fsync of the file and of its directory, which makes the change
// survive a power loss, runs in the background (syncState), coalesced
// with the next changes: an fsync costs milliseconds (two of them were
// most of a route change's 6 ms with 1,000 domains) and a route change is
// acknowledged without waiting for it. A process crash loses nothing (the
// rename is in the kernel); a power loss within the few milliseconds
// before the sync may leave the previous table or, at worst, a file the
// next start moves aside: then, as after any host reboot, the daemon
// pushes every route again at its start (routing.SyncAll). A failed
// background sync makes the next save sync before it returns, and return
// the error if that fails too.
func saveState(path string, sy *stateSyncer, routes []Route) (err error) {
	if routes == nil {
		routes = []Route{}
	}
	// Compact: the file is read by the proxy, not by people (berth
	// proxy:report and the control API's GET show the routes).
	data, err := json.Marshal(stateFile{Version: stateVersion, Routes: routes})
	if err != nil {
		return fmt.Errorf("encode routes: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	// Mode 0600, which the rename gives the state file: it holds the
	// routes' TLS private keys.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	synchronous := sy.failed()
	if synchronous {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("save routes: sync %s: %w", tmp, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	if synchronous {
		if err = syncDir(dir); err != nil {
			return err
		}
		sy.clear()
		return nil
	}
	sy.schedule(path)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save routes: open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save routes: sync %s: %w", dir, err)
	}
	return nil
}

// stateSyncer makes one state file durable in the background: one sync
// at a time, and changes saved meanwhile share the next. The zero value
// is ready; the proxy's server holds the one of its state file.
type stateSyncer struct {
	mu      sync.Mutex
	pending bool
	running bool
	err     error // the last background sync's, until a save syncs again
}

func (sy *stateSyncer) failed() bool {
	sy.mu.Lock()
	defer sy.mu.Unlock()
	return sy.err != nil
}

func (sy *stateSyncer) clear() {
	sy.mu.Lock()
	sy.err = nil
	sy.mu.Unlock()
}

// schedule syncs path soon, in the background.
func (sy *stateSyncer) schedule(path string) {
	sy.mu.Lock()
	defer sy.mu.Unlock()
	sy.pending = true
	if sy.running {
		return
	}
	sy.running = true
	go sy.run(path)
}

func (sy *stateSyncer) run(path string) {
	sy.mu.Lock()
	defer sy.mu.Unlock()
	for sy.pending {
		sy.pending = false
		sy.mu.Unlock()
		err := syncState(path)
		sy.mu.Lock()
		if err != nil {
			sy.err = err
		}
	}
	sy.running = false
}

// syncState makes the state file at path, and its name, durable.
func syncState(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("save routes: sync %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}
