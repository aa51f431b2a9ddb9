package services

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// Restores: each KIND:import and KIND:backup-restore, whether it worked or
// not, is recorded in the service's root (one JSON object a line), so
// KIND:info can say when the data last came from elsewhere and from what.
// The file goes with the service (KIND:destroy).

// restoresFile is the record's name in a service's root.
const restoresFile = "RESTORES"

// keepRestores bounds the record: older entries are dropped.
const keepRestores = 100

// recordRestore appends a restore to the service's record. A failure to
// write it is logged: the restore itself is done (or failed) either way.
func (m *Manager) recordRestore(svc store.Service, via, source string, restoreErr error) {
	r := api.ServiceRestore{At: m.now().UTC(), Via: via, Source: source, OK: restoreErr == nil}
	if restoreErr != nil {
		r.Error = restoreErr.Error()
	}
	all := append(m.restores(svc), r)
	if len(all) > keepRestores {
		all = all[len(all)-keepRestores:]
	}
	var buf []byte
	for _, e := range all {
		line, _ := json.Marshal(e)
		buf = append(append(buf, line...), '\n')
	}
	if err := writeFileAtomic(filepath.Join(m.serviceRoot(svc.Kind, svc.Name), restoresFile), buf, 0o600); err != nil {
		m.log.Error("restore not recorded", "kind", svc.Kind, "name", svc.Name, "via", via, "err", err)
	}
}

// restores reads the service's record, oldest first; unreadable lines are
// skipped.
func (m *Manager) restores(svc store.Service) []api.ServiceRestore {
	f, err := os.Open(filepath.Join(m.serviceRoot(svc.Kind, svc.Name), restoresFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Warn("restore record unreadable", "kind", svc.Kind, "name", svc.Name, "err", err)
		}
		return nil
	}
	defer f.Close()
	var out []api.ServiceRestore
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r api.ServiceRestore
		if json.Unmarshal(sc.Bytes(), &r) == nil && !r.At.Equal(time.Time{}) {
			out = append(out, r)
		}
	}
	return out
}
