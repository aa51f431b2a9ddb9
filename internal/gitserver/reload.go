package gitserver

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// A change of BERTH_AUTHORIZED_KEYS in the config file takes effect without
// a restart: the daemon checks the file's modification time every few
// seconds (WatchSettings) and before every ssh-keys change and report, and
// on a new value writes the keys to the new file and points the OpenSSH
// users at it. The other settings still need a restart.

// reloadState is what the last look at the config file saw.
type reloadState struct {
	mu    sync.Mutex
	stamp string // modification time and size; "" when missing
}

// fileStamp identifies a version of a file without reading it.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size())
}

// WatchSettings looks at the config file every interval until ctx ends.
func (s *Server) WatchSettings(ctx context.Context, every time.Duration) {
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.ReloadSettings(ctx)
			}
		}
	}()
}

// ReloadSettings reloads the settings if the config file changed, and
// applies a new BERTH_AUTHORIZED_KEYS: the keys are written to the new
// file and the OpenSSH users pointed at it. A config file that no longer
// loads is logged and changes nothing.
func (s *Server) ReloadSettings(ctx context.Context) {
	if s.openssh == nil {
		return
	}
	s.reload.mu.Lock()
	defer s.reload.mu.Unlock()
	stamp := fileStamp(s.settings.ConfigFile)
	if stamp == s.reload.stamp {
		return
	}
	s.reload.stamp = stamp
	ns, err := s.settings.Reload()
	if err != nil {
		s.log.Warn("config file changed but does not load: settings kept", "file", s.settings.ConfigFile, "err", err)
		return
	}
	s.openssh.mu.Lock()
	old := s.openssh.keysFile
	changed := old != ns.AuthorizedKeys
	s.openssh.keysFile = ns.AuthorizedKeys
	s.openssh.mu.Unlock()
	s.settings = ns
	if !changed {
		return
	}
	s.log.Info("BERTH_AUTHORIZED_KEYS changed: keys written to the new file", "from", old, "to", ns.AuthorizedKeys)
	s.syncKeys(ctx, api.Output{})
}
