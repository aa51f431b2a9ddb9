package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
// directory, fsync, rename, fsync of the directory. On error the old file is
// untouched.
func saveState(path string, routes []Route) (err error) {
	if routes == nil {
		routes = []Route{}
	}
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, Routes: routes}, "", "  ")
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
	if err = f.Sync(); err != nil {
		return fmt.Errorf("save routes: sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save routes: open %s: %w", dir, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("save routes: sync %s: %w", dir, err)
	}
	return nil
}
