package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The CPU time a target's processes spend per request is the figure that
// the machine's other load disturbs least: req/s on a shared 2-CPU machine
// moves with whatever else runs, the work done per request much less.

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTime returns the user and system CPU time so far of the processes
// pids and their children (nginx's and HAProxy's workers), or -1 when
// there are none to read.
func cpuTime(pids []int) time.Duration {
	if len(pids) == 0 {
		return -1
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	var ticks int64
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15): fields after the
		// last ')' start at state (3).
		i := strings.LastIndexByte(string(raw), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(raw[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if !want[pid] && !want[ppid] {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * clockTick
}

// pids of a target's processes, for cpuTime.
func (t *target) pids() []int {
	if t.pidsOf != nil {
		return t.pidsOf()
	}
	if t.proc != nil && t.proc.Process != nil {
		return []int{t.proc.Process.Pid}
	}
	return nil
}

// pidFile reads a pid written in a file.
func pidFile(path string) []int {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil
	}
	return []int{pid}
}
