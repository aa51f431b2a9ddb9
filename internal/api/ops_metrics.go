package api

import "time"

// MetricsRequest asks for an app's recent metrics (berth metrics APP, the
// dashboard).
type MetricsRequest struct {
	App string `json:"app"`
	// Minutes is how far back the series go: 1 to 1440 (24 h); 0 is 60.
	Minutes int `json:"minutes,omitempty"`
}

// AppName is the app whose metrics are read.
func (r MetricsRequest) AppName() string { return r.App }

// AppMetrics is an app's metrics as the daemon keeps them: a point per
// sample (every Interval) over the asked window, oldest first, and the
// request counts of its releases since the daemon started.
type AppMetrics struct {
	App string `json:"app"`
	// Interval is the time between points.
	Interval time.Duration `json:"interval"`
	// Release is the release the proxy routes to now (0: not known).
	Release  int             `json:"release,omitempty"`
	Releases []ReleaseCounts `json:"releases"`
	Points   []MetricsPoint  `json:"points"`
	// Containers are the app's running containers at the last stats
	// sample, with their CPU and memory.
	Containers []ContainerUsage `json:"containers"`
}

// ReleaseCounts are the requests the proxy answered for one release of
// an app, since the daemon started.
type ReleaseCounts struct {
	Release  int    `json:"release"`
	Requests uint64 `json:"requests"`
	// Status counts requests by class: [0] 1xx .. [4] 5xx.
	Status   [5]uint64 `json:"status"`
	BytesIn  uint64    `json:"bytes_in"`
	BytesOut uint64    `json:"bytes_out"`
}

// MetricsPoint is one sample of an app: rates over the interval before
// Time, latency quantiles of the requests of that interval (estimated
// from the proxy's histogram: 0 when none), and the last CPU and memory
// sample of its containers.
type MetricsPoint struct {
	Time        time.Time `json:"time"`
	RequestRate float64   `json:"request_rate"` // requests per second
	ErrorRate   float64   `json:"error_rate"`   // 5xx answers per second
	P50         float64   `json:"p50_seconds"`
	P95         float64   `json:"p95_seconds"`
	CPU         float64   `json:"cpu_cores"` // CPU time per second, all containers: 1 is one core
	Memory      uint64    `json:"memory_bytes"`
}

// ContainerUsage is one container's last CPU and memory sample.
type ContainerUsage struct {
	Name   string  `json:"name"`
	CPU    float64 `json:"cpu_cores"`
	Memory uint64  `json:"memory_bytes"`
}

// MetricsApp reads an app's metrics (read only).
var MetricsApp = Op[MetricsRequest, AppMetrics]{"metrics.app", AppScoped}
