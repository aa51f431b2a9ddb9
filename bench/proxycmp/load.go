package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// A scenario is one kind of load, sent to every target in turn.
type scenario struct {
	id, title string
	tls       bool
	tool      string // "wrk", "vegeta-max" (closed loop, HTTP/2), "vegeta-rate" (open loop)
	close     bool   // a new connection per request
}

var scenarios = []scenario{
	{id: "h1", title: "HTTP/1.1, keep-alive", tool: "wrk"},
	{id: "h1-close", title: "HTTP/1.1, a new connection per request", tool: "wrk", close: true},
	{id: "rate", title: "HTTP/1.1 keep-alive at a fixed rate (open loop): latency added", tool: "vegeta-rate"},
	{id: "tls", title: "HTTPS (TLS 1.3), HTTP/1.1, keep-alive", tls: true, tool: "wrk"},
	{id: "tls-close", title: "HTTPS (TLS 1.3), HTTP/1.1, a new connection and full handshake per request", tls: true, tool: "wrk", close: true},
	{id: "h2", title: "HTTP/2 over TLS 1.3", tls: true, tool: "vegeta-max"},
}

// wrkScript prints the figures wrk's summary leaves out (p99.9) on one
// line that parseWrk reads.
const wrkScript = `done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("BENCH requests=%d errors=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d\n",
		summary.requests, e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
		latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
`

// loader runs the load tools with the bench's settings.
type loader struct {
	dir            string
	threads, conns int
	duration       string // e.g. "6s"
	rate           int
}

// url is the address of t for scenario s, with the host name localhost
// (the route's domain and the certificate's name), or "" when t has no
// listener for it.
func (sc scenario) url(t *target) string {
	addr := t.http
	scheme := "http"
	if sc.tls {
		addr, scheme = t.https, "https"
	}
	if addr == "" {
		return ""
	}
	return scheme + "://" + host + ":" + port(addr) + "/"
}

func (l *loader) run(sc scenario, u string) (result, error) {
	switch sc.tool {
	case "wrk":
		return l.wrk(sc, u)
	case "vegeta-max":
		return l.vegeta(u, []string{"-rate=0", "-max-workers=" + strconv.Itoa(l.conns), "-workers=" + strconv.Itoa(l.conns)})
	case "vegeta-rate":
		return l.vegeta(u, []string{"-rate=" + strconv.Itoa(l.rate) + "/1s"})
	}
	return result{}, fmt.Errorf("unknown tool %q", sc.tool)
}

func (l *loader) wrk(sc scenario, u string) (result, error) {
	script := filepath.Join(l.dir, "report.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o644); err != nil {
		return result{}, err
	}
	args := []string{"-t" + strconv.Itoa(l.threads), "-c" + strconv.Itoa(l.conns), "-d" + l.duration, "-s", script}
	if sc.close {
		args = append(args, "-H", "Connection: close")
	}
	out, err := exec.Command("wrk", append(args, u)...).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %v\n%s", u, err, out)
	}
	return parseWrk(string(out))
}

func (l *loader) vegeta(u string, extra []string) (result, error) {
	bin := filepath.Join(l.dir, "vegeta.bin")
	args := append([]string{"attack", "-duration=" + l.duration, "-insecure", "-max-body=0", "-output=" + bin}, extra...)
	cmd := exec.Command("vegeta", args...)
	cmd.Stdin = bytes.NewReader([]byte("GET " + u + "\n"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return result{}, fmt.Errorf("vegeta attack %s: %v\n%s", u, err, out)
	}
	defer os.Remove(bin)
	out, err := exec.Command("vegeta", "encode", "--to", "csv", bin).Output()
	if err != nil {
		return result{}, fmt.Errorf("vegeta encode: %v", err)
	}
	return parseVegetaCSV(bytes.NewReader(out))
}
