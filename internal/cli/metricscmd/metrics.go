// Package metricscmd is `berth metrics APP`: a short summary of an app's
// traffic and resource use, from the daemon's metrics (package metrics).
package metricscmd

import (
	"fmt"
	"strconv"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(&cli.Command{Name: "metrics", Args: "<app> [--minutes N] [--format json]", App: cli.AppRequired,
		Short:  "Show an app's request rate, errors, latency, CPU and memory (--format json: the series of the last N minutes, default 60)",
		Values: []string{"minutes", "format"}, Run: run})
}

// summaryWindow is the time the rates of the summary are averaged over.
const summaryWindow = time.Minute

func run(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	minutes := 0
	if v := c.Flag("minutes", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1440 {
			return cli.Failf("--minutes %q must be a number of minutes from 1 to 1440", v)
		}
		minutes = n
	}
	m, err := api.MetricsApp.Call(c, c.API, api.MetricsRequest{App: c.App, Minutes: minutes})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(m); err != nil || done {
		return err
	}
	c.Info1("%s metrics", m.App)
	row := func(k, v string) { c.Println(fmt.Sprintf("       %-22s%s", k+":", v)) }
	if m.Release > 0 {
		row("Release", strconv.Itoa(m.Release))
	}
	s := summarize(m.Points, summaryWindow, m.Interval)
	if s.n == 0 {
		row("Requests", "no sample yet (the daemon samples every "+m.Interval.String()+")")
	} else {
		row("Requests", fmt.Sprintf("%.2f/s (last %s)", s.req, s.span))
		row("Errors (5xx)", fmt.Sprintf("%.2f/s", s.err))
		row("Latency p50 / p95", ms(s.p50)+" / "+ms(s.p95))
		row("CPU", fmt.Sprintf("%.3f cores", s.cpu))
		row("Memory", size(s.mem))
	}
	for _, r := range m.Releases {
		row(fmt.Sprintf("Release %d requests", r.Release), fmt.Sprintf("%d (1xx %d, 2xx %d, 3xx %d, 4xx %d, 5xx %d; %s in, %s out)",
			r.Requests, r.Status[0], r.Status[1], r.Status[2], r.Status[3], r.Status[4], size(r.BytesIn), size(r.BytesOut)))
	}
	for _, ct := range m.Containers {
		row(ct.Name, fmt.Sprintf("cpu %.3f cores, memory %s", ct.CPU, size(ct.Memory)))
	}
	return nil
}

type summary struct {
	n                       int
	span                    time.Duration
	req, err, p50, p95, cpu float64
	mem                     uint64
}

// summarize averages the rates of the points of the last window (the
// latency quantiles weighted by requests), and takes the last CPU and
// memory; span is the time the points cover (n × interval).
func summarize(points []api.MetricsPoint, window, interval time.Duration) summary {
	var s summary
	if len(points) == 0 {
		return s
	}
	last := points[len(points)-1]
	s.cpu, s.mem = last.CPU, last.Memory
	from := last.Time.Add(-window)
	var weight float64
	for _, p := range points {
		if !p.Time.After(from) {
			continue
		}
		s.n++
		s.req += p.RequestRate
		s.err += p.ErrorRate
		s.p50 += p.P50 * p.RequestRate
		s.p95 += p.P95 * p.RequestRate
		weight += p.RequestRate
	}
	if weight > 0 {
		s.p50 /= weight
		s.p95 /= weight
	}
	s.req /= float64(s.n)
	s.err /= float64(s.n)
	s.span = time.Duration(s.n) * interval
	return s
}

func ms(sec float64) string {
	if sec == 0 {
		return "-"
	}
	return strconv.FormatFloat(sec*1000, 'f', 1, 64) + " ms"
}

func size(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return strconv.FormatUint(b, 10) + " B"
}
