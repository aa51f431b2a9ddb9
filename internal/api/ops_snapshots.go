package api

import "time"

// SnapshotInfo is one snapshot of a linked database, taken before a
// release's predeploy or release command (docs/data-safety.md).
type SnapshotInfo struct {
	Release   int       `json:"release"`
	Kind      string    `json:"kind"`
	Service   string    `json:"service"`
	Bytes     int64     `json:"bytes"`
	TookMS    int64     `json:"took_ms"`
	CreatedAt time.Time `json:"created_at"`
}

// DataPlan is what releases:rollback APP N --with-data would do, nothing
// changed yet: make release Target live again (Live is live now) and
// restore Snapshots, taken before release From; every change to those
// databases since then is lost.
type DataPlan struct {
	Target    int            `json:"target"`
	Live      int            `json:"live"`
	From      int            `json:"from"`
	Snapshots []SnapshotInfo `json:"snapshots"`
}

// ReleasesDataPlan resolves a rollback --with-data without running it (the
// CLI's confirmation names what it shows).
var ReleasesDataPlan = Op[RollbackRequest, DataPlan]{"releases.data-plan", AppScoped}
