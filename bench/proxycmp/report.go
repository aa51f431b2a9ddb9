package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// report renders the results as markdown.
type report struct {
	scenarios []scenario
	targets   []*target
	res       map[string]map[string][]result
	failures  map[string][]string
	began     time.Time
	took      time.Duration
	load      [2]string
}

func (r *report) sum(sc, target string) summary { return summarize(r.res[sc][target]) }

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Proxy comparison\n\n")
	fmt.Fprintf(&b, "Run %s, %s long: %d round(s) of %v per target and scenario, targets in the order %s each round; "+
		"wrk -t%d -c%d; HTTP/2 with vegeta, %d concurrent requests; open loop with vegeta at %d req/s. "+
		"Load average %s at the start, %s at the end.\n\n",
		r.began.UTC().Format("2006-01-02 15:04 UTC"), r.took.Round(time.Second), *rounds, *duration, r.names(),
		*threads, *conns, *conns, *rate, r.load[0], r.load[1])
	fmt.Fprintf(&b, "Versions: %s.\n\n", strings.Join(versions(), "; "))
	r.headline(&b)
	for _, sc := range r.scenarios {
		fmt.Fprintf(&b, "### %s\n\n", sc.title)
		if sc.tool == "vegeta-rate" {
			r.openLoop(&b, sc)
		} else {
			r.closedLoop(&b, sc)
		}
		for _, f := range r.failures[sc.id] {
			fmt.Fprintf(&b, "- failed: %s\n", oneLine(f))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (r *report) names() string {
	var n []string
	for _, t := range r.targets {
		n = append(n, t.name)
	}
	return strings.Join(n, ", ")
}

// headline is Berth's req/s (p99 added, for the open loop) against each
// other target, one line per scenario.
func (r *report) headline(b *strings.Builder) {
	others := []string{}
	for _, t := range r.targets {
		if t.name != "berth" {
			others = append(others, t.name)
		}
	}
	if len(others) == len(r.targets) {
		return
	}
	fmt.Fprintf(b, "**Berth against each, req/s (medians, same run):**\n\n| scenario | %s |\n|---|%s\n", strings.Join(others, " | "), strings.Repeat("---:|", len(others)))
	for _, sc := range r.scenarios {
		if sc.tool == "vegeta-rate" {
			continue
		}
		berth := r.sum(sc.id, "berth").rps
		var cells []string
		for _, o := range others {
			cells = append(cells, ratio(berth, r.sum(sc.id, o).rps))
		}
		fmt.Fprintf(b, "| %s | %s |\n", sc.title, strings.Join(cells, " | "))
	}
	b.WriteString("\n")
}

func (r *report) closedLoop(b *strings.Builder, sc scenario) {
	nginx, direct := r.sum(sc.id, "nginx"), r.sum(sc.id, "direct")
	b.WriteString("CPU/req is the CPU time the target's processes spent per request (median over the rounds): less disturbed by the machine's other load than req/s.\n\n")
	b.WriteString("| target | req/s | range | × nginx | × direct | p50 | p99 | p99.9 | p99 × nginx | CPU/req | CPU/req × nginx | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range r.targets {
		s := r.sum(sc.id, t.name)
		if s.runs == 0 {
			fmt.Fprintf(b, "| %s | – | | | | | | | | | | |\n", t.name)
			continue
		}
		cpu := "–"
		if s.cpu > 0 {
			cpu = fmt.Sprintf("%.1f µs", s.cpu*1e6)
		}
		fmt.Fprintf(b, "| %s | %.0f | %.0f–%.0f | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", t.name, s.rps, s.rpsMin, s.rpsMax,
			ratio(s.rps, nginx.rps), ratio(s.rps, direct.rps), ms(s.p50), ms(s.p99), ms(s.p999), ratio(s.p99, nginx.p99), cpu, ratio(s.cpu, nginx.cpu), s.errors)
	}
}

func (r *report) openLoop(b *strings.Builder, sc scenario) {
	direct, nginx := r.sum(sc.id, "direct"), r.sum(sc.id, "nginx")
	b.WriteString("Added latency is the target's minus the backend's measured directly (medians over the rounds).\n\n")
	b.WriteString("| target | achieved req/s | p50 | p99 | p99.9 | added p50 | added p99 | added p99.9 | added p99 × nginx | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range r.targets {
		s := r.sum(sc.id, t.name)
		if s.runs == 0 {
			fmt.Fprintf(b, "| %s | – | | | | | | | | |\n", t.name)
			continue
		}
		added := func(v, ref float64) string {
			if t.name == "direct" || direct.runs == 0 {
				return "–"
			}
			return fmt.Sprintf("%+.2f ms", (v-ref)*1000)
		}
		fmt.Fprintf(b, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %d |\n", t.name, s.rps, ms(s.p50), ms(s.p99), ms(s.p999),
			added(s.p50, direct.p50), added(s.p99, direct.p99), added(s.p999, direct.p999),
			ratio(s.p99-direct.p99, nginx.p99-direct.p99), s.errors)
	}
}

// versions of everything measured and measuring.
func versions() []string {
	v := []string{"Go " + runtime.Version() + " (Berth, the backend)"}
	for _, c := range [][]string{{"nginx", nginxBin(), "-v"}, {"caddy", "caddy", "version"}, {"haproxy", "haproxy", "-v"}, {"wrk", "wrk", "-v"}, {"vegeta", "go", "version", "-m", vegetaPath()}} {
		o, _ := exec.Command(c[1], c[2:]...).CombinedOutput()
		v = append(v, c[0]+" "+versionOf(c[0], string(o)))
	}
	return v
}

// versionOf picks the version out of a tool's version output.
func versionOf(tool, out string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case tool == "nginx" && strings.HasPrefix(l, "nginx version: "):
			return strings.TrimPrefix(l, "nginx version: nginx/")
		case tool == "caddy" && len(f) > 0:
			return strings.TrimPrefix(f[0], "v")
		case tool == "haproxy" && strings.HasPrefix(l, "HAProxy version ") && len(f) > 2:
			return f[2]
		case tool == "wrk" && strings.HasPrefix(l, "wrk ") && len(f) > 1:
			return f[1]
		case tool == "vegeta" && len(f) > 2 && f[0] == "mod" && strings.HasPrefix(f[1], "github.com/tsenart/vegeta"):
			return f[2]
		}
	}
	return "(unknown)"
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func vegetaPath() string {
	p, _ := exec.LookPath("vegeta")
	return p
}
