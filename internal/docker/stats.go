package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// ContainerStats is one sample of a running container's resource use.
type ContainerStats struct {
	// Read is when the engine took the sample.
	Read time.Time
	// CPUNanos is the CPU time the container has used since it started,
	// in nanoseconds: a rate needs two samples.
	CPUNanos uint64
	// MemoryBytes is the memory in use as `docker stats` shows it: the
	// cgroup's usage without the inactive page cache.
	MemoryBytes uint64
	// MemoryLimit is the cgroup's limit (the host's memory when none).
	MemoryLimit uint64
}

// Stats takes one sample of a container's CPU and memory use, without
// the second, one second later, that a CPU percentage needs (one-shot).
// A container that is not running answers zeros from some engines; a
// missing one matches [ErrNotFound].
func (c *Client) Stats(ctx context.Context, id string) (ContainerStats, error) {
	res, err := c.api.ContainerStats(ctx, id, client.ContainerStatsOptions{})
	if err != nil {
		return ContainerStats{}, c.wrap(err, "stats of %s", id)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		return ContainerStats{}, fmt.Errorf("docker: stats of %s: decode: %w", id, err)
	}
	return statsOf(s), nil
}

// statsOf reads a stats answer as `docker stats` does: memory without
// the inactive file cache (cgroup v2 "inactive_file", v1
// "total_inactive_file"), never below zero.
func statsOf(s container.StatsResponse) ContainerStats {
	mem := s.MemoryStats.Usage
	inactive, ok := s.MemoryStats.Stats["inactive_file"]
	if !ok {
		inactive = s.MemoryStats.Stats["total_inactive_file"]
	}
	if inactive < mem {
		mem -= inactive
	}
	return ContainerStats{Read: s.Read, CPUNanos: s.CPUStats.CPUUsage.TotalUsage, MemoryBytes: mem, MemoryLimit: s.MemoryStats.Limit}
}
