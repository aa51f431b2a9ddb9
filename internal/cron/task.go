package cron

import (
	"math/big"
	"strconv"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
)

// Concurrency policies of a task (app.json "concurrency_policy").
const (
	PolicyAllow   = "allow"   // start a run even if one is running
	PolicyForbid  = "forbid"  // refuse a run while one is running
	PolicyReplace = "replace" // stop the running one, then start
)

// DefaultTTLSeconds is how long a run may last before ps:retire stops it
// (Dokku's com.dokku.active-deadline-seconds).
const DefaultTTLSeconds = 86400

// Task is one scheduled command of an app, as cron:list shows it.
type Task struct {
	ID                string
	App               string
	Command           string
	Schedule          string
	ConcurrencyPolicy string
	// AppInMaintenance: the app's cron is suspended (cron:set APP
	// maintenance true, or globally); TaskInMaintenance: this task is
	// (cron:suspend, or app.json "maintenance": true). Maintenance is
	// either: the scheduler skips the task.
	AppInMaintenance  bool
	TaskInMaintenance bool
	Maintenance       bool
}

// MaintenancePrefix starts the per-task maintenance property
// (maintenance.ID), as in Dokku.
const MaintenancePrefix = "maintenance."

// ID is Dokku's ID of a task: the lower-case base36 of
// "APP===COMMAND===SCHEDULE", so an app's tasks keep their IDs across
// deploys and Dokku's IDs stay valid.
func ID(app, command, schedule string) string {
	return base36([]byte(app + "===" + command + "===" + schedule))
}

// base36 encodes b as multiformats' go-base36 does (Dokku's encoder): each
// leading zero byte is a '0', the rest a big-endian number.
func base36(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	out := make([]byte, zeros)
	for i := range out {
		out[i] = '0'
	}
	rest := b[zeros:]
	if len(rest) == 0 {
		return string(out)
	}
	return string(out) + new(big.Int).SetBytes(rest).Text(36)
}

// Tasks are the tasks of app from its app.json entries. appMaintenance is
// the app's computed maintenance; props are the app's cron properties
// (maintenance.ID of suspended tasks). Entries were checked when the
// release was made (appfile.ParseAppJSON); a schedule Berth cannot parse is
// still an error here.
func Tasks(appName string, entries []appfile.Cron, appMaintenance bool, props map[string]string) ([]Task, error) {
	tasks := []Task{}
	for _, e := range entries {
		if _, err := Parse(e.Schedule); err != nil {
			return nil, app.Invalidf("Invalid cron schedule for app %s (schedule %s): %v", appName, e.Schedule, err)
		}
		id := ID(appName, e.Command, e.Schedule)
		taskMaint := e.Maintenance
		if v, ok := props[MaintenancePrefix+id]; ok {
			if b, err := strconv.ParseBool(v); err == nil && b {
				taskMaint = true
			}
		}
		policy := e.ConcurrencyPolicy
		if policy == "" {
			policy = PolicyAllow
		}
		tasks = append(tasks, Task{
			ID: id, App: appName, Command: e.Command, Schedule: e.Schedule, ConcurrencyPolicy: policy,
			AppInMaintenance: appMaintenance, TaskInMaintenance: taskMaint, Maintenance: appMaintenance || taskMaint,
		})
	}
	return tasks, nil
}

// Find returns the task with id.
func Find(tasks []Task, id string) (Task, bool) {
	for _, t := range tasks {
		if t.ID == id {
			return t, true
		}
	}
	return Task{}, false
}
