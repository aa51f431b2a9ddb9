package benchenv

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Mem is a process's memory as /proc reports it, in KiB.
type Mem struct {
	RSS, Anon, File, PSS int64
}

// MemOf reads a process's RSS (anonymous and file-backed) from
// /proc/PID/status and its PSS from /proc/PID/smaps_rollup (0 when the
// kernel has none). PSS shares each page among the processes mapping it:
// the daemon and the proxy run the same binary, so the sum of their RSS
// counts its pages twice and the sum of their PSS once.
func MemOf(pid int) (Mem, error) {
	var m Mem
	st, err := fields(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	m.RSS, m.Anon, m.File = st["VmRSS"], st["RssAnon"], st["RssFile"]
	if sm, err := fields(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		m.PSS = sm["Pss"]
	}
	return m, nil
}

// fields reads "Key: N kB" lines.
func fields(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(fs[0], 10, 64); err == nil {
			v[k] = n
		}
	}
	return v, sc.Err()
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times (100 on every
// Linux architecture Berth runs on).
const clockTick = 10 * time.Millisecond

// CPUOf is the CPU time (user + system) a process has used so far.
func CPUOf(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line; the command name (field 2, in parentheses) may hold
// spaces.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // from field 3 (state) on
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: too few fields in %q", stat)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc stat: bad utime/stime %q %q", f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}
