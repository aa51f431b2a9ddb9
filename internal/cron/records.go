package cron

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// maxKeptOutput is how much of a run's output is kept: its last 64 KiB.
const maxKeptOutput = 64 << 10

// Record is what is kept of a task's last run.
type Record struct {
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Scheduled bool      `json:"scheduled"`
	ExitCode  int       `json:"exit_code"`
	Error     string    `json:"error,omitempty"`
	Output    string    `json:"output"`
}

// Failed says whether the run failed: it could not start or exited non-zero.
func (r Record) Failed() bool { return r.Error != "" || r.ExitCode != 0 }

// records keeps the last run of each task in DIR/APP-ID/TASK-ID.json: by
// the app's ID, so a rename keeps them and a destroy's prune drops them.
type records struct {
	dir string
	mu  sync.Mutex
}

func (r *records) path(appID int64, id string) string {
	return filepath.Join(r.dir, strconv.FormatInt(appID, 10), id+".json")
}

func (r *records) write(appID int64, id string, rec Record) error {
	if r.dir == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.path(appID, id)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

func (r *records) read(appID int64, id string) (Record, bool) {
	if r.dir == "" {
		return Record{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b, err := os.ReadFile(r.path(appID, id))
	if err != nil {
		return Record{}, false
	}
	var rec Record
	if json.Unmarshal(b, &rec) != nil {
		return Record{}, false
	}
	return rec, true
}

// prune removes the records of apps that are gone and of tasks an app no
// longer has (keep: app ID -> its task IDs).
func (r *records) prune(keep map[int64]map[string]bool) error {
	if r.dir == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	apps, err := os.ReadDir(r.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range apps {
		id, err := strconv.ParseInt(d.Name(), 10, 64)
		if err != nil {
			continue
		}
		tasks, ok := keep[id]
		if !ok {
			os.RemoveAll(filepath.Join(r.dir, d.Name()))
			continue
		}
		files, _ := os.ReadDir(filepath.Join(r.dir, d.Name()))
		for _, f := range files {
			name := f.Name()
			if filepath.Ext(name) == ".json" && !tasks[name[:len(name)-len(".json")]] {
				os.Remove(filepath.Join(r.dir, d.Name(), name))
			}
		}
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
