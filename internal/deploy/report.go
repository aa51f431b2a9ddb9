package deploy

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/berthpaas/berth/internal/store"
)

// ProcessStatus is one process container as ps:report shows it.
type ProcessStatus struct {
	Type     string `json:"type"`
	Index    int    `json:"index"`
	State    string `json:"state"`
	ID       string `json:"id"`
	Name     string `json:"name"`
	HostPort int    `json:"host_port,omitempty"`
}

// Report is the state of an app's processes.
type Report struct {
	Deployed      bool              `json:"deployed"`
	Release       int               `json:"release"`
	Image         string            `json:"image"`
	Processes     map[string]string `json:"processes"`
	Formation     map[string]int    `json:"formation"`
	Stopped       bool              `json:"stopped"`
	CanScale      bool              `json:"can_scale"`
	RestartPolicy string            `json:"restart_policy"`
	StopTimeout   int               `json:"stop_timeout"`
	ProcfilePath  string            `json:"procfile_path"`
	Containers    []ProcessStatus   `json:"containers"`
	// EngineError is set when the engine could not be asked about containers.
	EngineError string `json:"engine_error,omitempty"`
}

// Report describes an app's processes: its live release, formation and
// containers.
func (d *Deployer) Report(ctx context.Context, appName string) (Report, error) {
	s, err := d.state(ctx, appName)
	if err != nil {
		return Report{}, err
	}
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return Report{}, err
	}
	r := Report{
		Deployed: s.deployed, Release: s.live.Number, Image: s.live.Image, Processes: s.live.Processes,
		Formation: s.formation, Stopped: s.app.Stopped, CanScale: true,
		RestartPolicy: set.restartPolicy, StopTimeout: set.stopTimeout, ProcfilePath: set.procfilePath,
		Containers: []ProcessStatus{},
	}
	if s.deployed {
		files, _ := readAppFiles(d.srcDirOf(appName, s.live.Number), "-")
		if files.appJSON != nil {
			for _, f := range files.appJSON.Formation {
				if f.Quantity != nil {
					r.CanScale = false
				}
			}
		}
	}
	cs, err := d.Containers(ctx, appName, KindProcess, true)
	if err != nil {
		r.EngineError = firstLine(err.Error())
		return r, nil
	}
	for _, c := range cs {
		n, _ := strconv.Atoi(c.Labels[LabelIndex])
		r.Containers = append(r.Containers, ProcessStatus{Type: c.Labels[LabelProcess], Index: n, State: c.State, ID: c.ID, Name: c.Name, HostPort: c.HostPort})
	}
	return r, nil
}

// Inspect returns the engine's inspect JSON of each of an app's process
// containers.
func (d *Deployer) Inspect(ctx context.Context, appName string) ([]json.RawMessage, error) {
	cs, err := d.Containers(ctx, appName, KindProcess, true)
	if err != nil {
		return nil, err
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	for _, c := range cs {
		det, err := eng.InspectContainer(ctx, c.ID)
		if err != nil {
			continue
		}
		out = append(out, det.Raw)
	}
	return out, nil
}

// Releases lists an app's releases, newest first.
func (d *Deployer) Releases(ctx context.Context, appName string) ([]store.Release, error) {
	s, err := d.state(ctx, appName)
	if err != nil {
		return nil, err
	}
	var rels []store.Release
	err = d.store.Tx(ctx, func(tx *store.Tx) (err error) { rels, err = tx.Releases(s.app); return err })
	return rels, err
}
