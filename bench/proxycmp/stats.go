package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is one measurement: one load run against one target.
type result struct {
	requests, errors int
	duration         time.Duration
	p50, p99, p999   time.Duration
	cpu              time.Duration // the target's processes' CPU time during the run; 0: unknown
}

// cpuPerRequest is the target's CPU time per request, in seconds; 0:
// unknown.
func (r result) cpuPerRequest() float64 {
	if r.requests == 0 {
		return 0
	}
	return r.cpu.Seconds() / float64(r.requests)
}

func (r result) rps() float64 {
	if r.duration <= 0 {
		return 0
	}
	return float64(r.requests) / r.duration.Seconds()
}

// parseWrk reads the line our Lua script's done() prints:
// "BENCH requests=N errors=N duration_us=N p50_us=N p99_us=N p999_us=N".
func parseWrk(out string) (result, error) {
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
				return result{}, fmt.Errorf("wrk: bad field %q", f)
			}
			v[k] = n
		}
		for _, k := range []string{"requests", "errors", "duration_us", "p50_us", "p99_us", "p999_us"} {
			if _, ok := v[k]; !ok {
				return result{}, fmt.Errorf("wrk: no %s in %q", k, line)
			}
		}
		us := func(k string) time.Duration { return time.Duration(v[k]) * time.Microsecond }
		return result{requests: int(v["requests"]), errors: int(v["errors"]), duration: us("duration_us"),
			p50: us("p50_us"), p99: us("p99_us"), p999: us("p999_us")}, nil
	}
	return result{}, errors.New("wrk: no BENCH line in its output")
}

// parseVegetaCSV reads `vegeta encode --to csv` (timestamp ns, code,
// latency ns, ...). Requests that got a 200 count; the others are errors.
// The duration runs from the first request sent to the last answer.
func parseVegetaCSV(r io.Reader) (result, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var lat []time.Duration
	var res result
	var first, last int64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return result{}, fmt.Errorf("vegeta csv: %v", err)
		}
		if len(rec) < 3 {
			return result{}, fmt.Errorf("vegeta csv: short record %q", rec)
		}
		ts, err1 := strconv.ParseInt(rec[0], 10, 64)
		code, err2 := strconv.Atoi(rec[1])
		l, err3 := strconv.ParseInt(rec[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return result{}, fmt.Errorf("vegeta csv: %v", err)
		}
		if first == 0 || ts < first {
			first = ts
		}
		last = max(last, ts+l)
		if code != 200 {
			res.errors++
			continue
		}
		res.requests++
		lat = append(lat, time.Duration(l))
	}
	if res.requests == 0 {
		return res, fmt.Errorf("vegeta: no successful request (%d failed)", res.errors)
	}
	slices.Sort(lat)
	res.duration = time.Duration(last - first)
	res.p50, res.p99, res.p999 = percentile(lat, 50), percentile(lat, 99), percentile(lat, 99.9)
	return res, nil
}

// percentile is the nearest-rank percentile p (0-100] of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted))-1e-9)) - 1 // 1e-9: 99.9/100*1000 is 999.0000000000001
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// median of the values (the mean of the middle two for an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summary is a target's figures in one scenario: the median of each
// figure over its rounds, and the spread of req/s.
type summary struct {
	rps, p50, p99, p999    float64 // req/s; latencies in seconds
	cpu                    float64 // the target's CPU seconds per request (median; 0: unknown)
	rpsMin, rpsMax         float64
	requests, errors, runs int
}

func summarize(rounds []result) summary {
	var s summary
	var rps, p50, p99, p999, cpu []float64
	for _, r := range rounds {
		if c := r.cpuPerRequest(); c > 0 {
			cpu = append(cpu, c)
		}
		rps = append(rps, r.rps())
		p50 = append(p50, r.p50.Seconds())
		p99 = append(p99, r.p99.Seconds())
		p999 = append(p999, r.p999.Seconds())
		s.requests += r.requests
		s.errors += r.errors
	}
	s.runs = len(rounds)
	s.rps, s.p50, s.p99, s.p999 = median(rps), median(p50), median(p99), median(p999)
	if len(cpu) > 0 {
		s.cpu = median(cpu)
	}
	if len(rps) > 0 {
		s.rpsMin, s.rpsMax = slices.Min(rps), slices.Max(rps)
	}
	return s
}

// ratio formats a/b as "0.49×", or "–" when there is no reference.
func ratio(a, b float64) string {
	if b == 0 || a == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// ms formats seconds as milliseconds.
func ms(sec float64) string {
	if sec == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f ms", sec*1000)
}
