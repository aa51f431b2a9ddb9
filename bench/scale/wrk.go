package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkResult is one wrk run.
type wrkResult struct {
	requests, errors int
	duration         time.Duration
	p50, p99         time.Duration
}

func (r wrkResult) rps() float64 {
	if r.duration <= 0 {
		return 0
	}
	return float64(r.requests) / r.duration.Seconds()
}

// wrkLua sends each request with the next Host of hosts (each thread
// from its own start, so that the threads do not walk the list in step),
// and prints what parseWrk reads.
func wrkLua(hosts []string) string {
	var b strings.Builder
	b.WriteString("local hosts = {")
	for i, h := range hosts {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q", h)
	}
	b.WriteString(`}
local i = 0
local counter = 0
setup = function(thread)
	counter = counter + 1
	thread:set("start", counter * 97)
end
init = function(args)
	i = (start or 0) % #hosts
end
request = function()
	i = i % #hosts + 1
	return wrk.format(nil, nil, {Host = hosts[i]})
end
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("BENCH requests=%d errors=%d duration_us=%d p50_us=%d p99_us=%d\n",
		summary.requests, e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
		latency:percentile(50), latency:percentile(99)))
end
`)
	return b.String()
}

// runWrk sends wrk's load to addr, each request for the next of hosts.
func runWrk(dir, addr string, hosts []string, threads, conns int, d time.Duration) (wrkResult, error) {
	script := filepath.Join(dir, fmt.Sprintf("hosts-%d.lua", len(hosts)))
	if err := os.WriteFile(script, []byte(wrkLua(hosts)), 0o644); err != nil {
		return wrkResult{}, err
	}
	args := []string{"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns), "-d" + d.String(), "-s", script, "http://" + addr + "/"}
	out, err := exec.Command("wrk", args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	return parseWrk(string(out))
}

// parseWrk reads the BENCH line of wrkLua's done().
func parseWrk(out string) (wrkResult, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "BENCH ")
		if !ok {
			continue
		}
		v := map[string]int64{}
		for _, f := range strings.Fields(line) {
			k, s, _ := strings.Cut(f, "=")
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return wrkResult{}, fmt.Errorf("wrk: bad field %q", f)
			}
			v[k] = n
		}
		for _, k := range []string{"requests", "errors", "duration_us", "p50_us", "p99_us"} {
			if _, ok := v[k]; !ok {
				return wrkResult{}, fmt.Errorf("wrk: no %s in %q", k, line)
			}
		}
		us := func(k string) time.Duration { return time.Duration(v[k]) * time.Microsecond }
		return wrkResult{requests: int(v["requests"]), errors: int(v["errors"]), duration: us("duration_us"),
			p50: us("p50_us"), p99: us("p99_us")}, nil
	}
	return wrkResult{}, errors.New("wrk: no BENCH line in its output: " + strings.TrimSpace(out))
}
