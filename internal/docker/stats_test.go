package docker

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestStatsOf(t *testing.T) {
	t.Parallel()
	var s container.StatsResponse
	s.CPUStats.CPUUsage.TotalUsage = 42
	s.MemoryStats.Usage = 100 << 20
	s.MemoryStats.Limit = 1 << 30
	s.MemoryStats.Stats = map[string]uint64{"inactive_file": 30 << 20} // cgroup v2
	if got := statsOf(s); got.CPUNanos != 42 || got.MemoryBytes != 70<<20 || got.MemoryLimit != 1<<30 {
		t.Fatalf("v2: %+v", got)
	}
	s.MemoryStats.Stats = map[string]uint64{"total_inactive_file": 10 << 20} // cgroup v1
	if got := statsOf(s); got.MemoryBytes != 90<<20 {
		t.Fatalf("v1: %+v", got)
	}
	s.MemoryStats.Stats = map[string]uint64{"inactive_file": 200 << 20} // never below zero
	if got := statsOf(s); got.MemoryBytes != 100<<20 {
		t.Fatalf("more cache than usage: %+v", got)
	}
}
