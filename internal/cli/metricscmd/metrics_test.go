package metricscmd

import (
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// runCLI runs the command table over fake (package clirun).
var runCLI = clirun.Run

func TestMetrics(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_800_000_000, 0).UTC()
	m := api.AppMetrics{App: "shop", Interval: 10 * time.Second, Release: 4,
		Releases: []api.ReleaseCounts{{Release: 4, Requests: 12, Status: [5]uint64{0, 9, 0, 2, 1}, BytesIn: 10, BytesOut: 3 << 20}},
		Points: []api.MetricsPoint{
			{Time: t0, RequestRate: 100, P50: 1}, // older than the last minute: left out
			{Time: t0.Add(60 * time.Second), RequestRate: 1, ErrorRate: 0.5, P50: 0.002, P95: 0.010, CPU: 0.25, Memory: 5 << 20},
			{Time: t0.Add(70 * time.Second), RequestRate: 3, ErrorRate: 0, P50: 0.004, P95: 0.020, CPU: 0.5, Memory: 6 << 20},
		},
		Containers: []api.ContainerUsage{{Name: "shop.web.1", CPU: 0.5, Memory: 6 << 20}},
	}
	reply := map[string]clitest.Reply{"metrics.app": {Resp: m}}
	clitest.RunCases(t, runCLI, []clitest.Case{
		{Name: "summary", Args: []string{"metrics", "shop"}, Replies: reply, Ops: []string{"metrics.app"}, Has: []string{
			"-----> shop metrics\n",
			"Release:              4\n",
			"Requests:             2.00/s (last 20s)\n",
			"Errors (5xx):         0.25/s\n",
			"Latency p50 / p95:    3.5 ms / 17.5 ms\n",
			"CPU:                  0.500 cores\n",
			"Memory:               6.0 MiB\n",
			"Release 4 requests:   12 (1xx 0, 2xx 9, 3xx 0, 4xx 2, 5xx 1; 10 B in, 3.0 MiB out)\n",
			"shop.web.1:           cpu 0.500 cores, memory 6.0 MiB\n",
		}},
		{Name: "no sample", Args: []string{"metrics", "shop"}, Replies: map[string]clitest.Reply{"metrics.app": {Resp: api.AppMetrics{App: "shop", Interval: 10 * time.Second}}},
			Ops: []string{"metrics.app"}, Has: []string{"no sample yet (the daemon samples every 10s)"}},
		{Name: "json", Args: []string{"metrics", "shop", "--format", "json", "--minutes", "5"}, Replies: reply, Ops: []string{"metrics.app"},
			Has: []string{`"request_rate":3`, `"app":"shop"`}},
		{Name: "bad minutes", Args: []string{"metrics", "shop", "--minutes", "0"}, Code: 1, ErrLine: "--minutes"},
		{Name: "no app", Args: []string{"metrics"}, Code: 1, ErrLine: "Please specify an app"},
		{Name: "extra", Args: []string{"metrics", "shop", "extra"}, Code: 1, ErrLine: "extra"},
	})
}
