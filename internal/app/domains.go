package app

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Domain limits (RFC 1035): a label is at most 63 characters, a name at most
// 253.
const (
	MaxDomainLength = 253
	MaxLabelLength  = 63
)

// domainRE is Dokku's hostname rule, applied to the lower-cased name.
var domainRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9.*-]*[a-z0-9*-]$`) })

// NormalizeDomain returns the form a domain is stored and compared in: host
// names are case-insensitive, so Berth keeps them lower-cased (Dokku checks
// the lower-cased name too).
func NormalizeDomain(name string) string { return strings.ToLower(name) }

// ValidateDomain checks a domain name with Dokku's rule on its lower-cased
// form (`^[a-z0-9.*-]*[a-z0-9*-]$`, or `_`, the catch-all), and what Dokku
// leaves to chance: no empty label (`a..b`, `.a`), labels of at most 63
// characters, names of at most 253, and `*` only as a whole leading label
// (`*.example.com`). The error says "NAME is invalid".
func ValidateDomain(name string) error {
	d := NormalizeDomain(name)
	if d == "_" {
		return nil
	}
	shown := name
	if strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		shown = fmt.Sprintf("%q", name) // one line: never echo a line break
	}
	bad := Invalidf("%s is invalid", shown)
	if len(d) > MaxDomainLength || !domainRE().MatchString(d) {
		return bad
	}
	labels := strings.Split(d, ".")
	for i, l := range labels {
		if l == "" || len(l) > MaxLabelLength {
			return bad
		}
		if strings.Contains(l, "*") && (i != 0 || l != "*" || len(labels) < 2) {
			return bad
		}
	}
	return nil
}

// IsWildcardDomain reports whether d is a wildcard (`*.example.com`).
func IsWildcardDomain(d string) bool { return strings.HasPrefix(d, "*.") }

// DefaultDomain is the domain an app gets when it is created or reset: the
// app's name itself when it contains a dot (an app named `www.shop.test` is
// served at that name), else `APP.<global>` with the first global domain
// that can carry a subdomain (IP addresses, `_` and wildcards cannot), else
// "" (the app gets no domain).
func DefaultDomain(app string, globals []string) string {
	if strings.Contains(app, ".") {
		if ValidateDomain(app) == nil {
			return NormalizeDomain(app)
		}
		return ""
	}
	for _, g := range globals {
		g = NormalizeDomain(g)
		if g == "_" || IsWildcardDomain(g) || net.ParseIP(g) != nil || ValidateDomain(g) != nil {
			continue
		}
		if d := NormalizeDomain(app) + "." + g; ValidateDomain(d) == nil {
			return d
		}
	}
	return ""
}

// DefaultDomains are the domains an app gets when it is created or reset,
// as Dokku gives them: `APP.<global>` for each global domain that can carry
// a subdomain, or the app's name itself when it contains a dot (with or
// without global domains, as DefaultDomain).
func DefaultDomains(app string, globals []string) []string {
	if strings.Contains(app, ".") {
		if d := DefaultDomain(app, globals); d != "" {
			return []string{d}
		}
		return nil
	}
	var out []string
	for _, g := range globals {
		if d := DefaultDomain(app, []string{g}); d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// ExpandDomain returns the domains a name given to domains:add stands for:
// nginx's `.example.com` (Dokku passes it on to nginx) is `example.com` and
// `*.example.com`; any other name is itself.
func ExpandDomain(name string) []string {
	if len(name) > 1 && name[0] == '.' && name[1] != '.' {
		return []string{name[1:], "*" + name}
	}
	return []string{name}
}

// RenamedDomain returns what domain d of an app renamed from oldName to
// newName becomes: a default domain of the old name (`OLD.<global>`, or the
// old name itself when it contained a dot) becomes the new name's; any
// other domain stays. ok is false when d is not a default domain of oldName.
func RenamedDomain(d, oldName, newName string, globals []string) (string, bool) {
	if d == oldName && strings.Contains(oldName, ".") {
		if nd := DefaultDomain(newName, globals); nd != "" {
			return nd, true
		}
		return "", false
	}
	for _, g := range globals {
		if d == oldName+"."+NormalizeDomain(g) {
			nd := newName + "." + NormalizeDomain(g)
			if ValidateDomain(nd) != nil {
				return "", false
			}
			return nd, true
		}
	}
	return "", false
}

// URL returns the URL of a host on a port: the port is left out when it is
// the scheme's default (80 for http, 443 for https).
func URL(scheme, host string, port int) string {
	if port == 0 || (scheme == "http" && port == 80) || (scheme == "https" && port == 443) {
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// ListenPort returns the port of a listen address setting (":80",
// "127.0.0.1:8080", "[::1]:8080", or a bare "8080"); 0 when there is none.
func ListenPort(addr string) int {
	p := addr
	if _, port, err := net.SplitHostPort(addr); err == nil {
		p = port
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return 0
	}
	return n
}

// Port map schemes the proxy serves.
var portSchemes = map[string]bool{"http": true, "https": true}

// PortMap maps a public (host) port of the proxy to a container port.
type PortMap struct {
	Scheme    string
	Host      int
	Container int
}

// String returns the map as Dokku writes it, `scheme:host:container`.
func (p PortMap) String() string {
	return fmt.Sprintf("%s:%d:%d", p.Scheme, p.Host, p.Container)
}

// DefaultPortMap is the map of an app whose image exposes no port: the
// proxy's port 80 to the container's 5000 (Dokku's default).
var DefaultPortMap = PortMap{Scheme: "http", Host: 80, Container: 5000}

func parsePort(s string) (int, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= 65535
}

func invalidPortMap(s string) error {
	return Invalidf("Invalid port map %s: expected scheme:host-port:container-port with scheme http or https and ports from 1 to 65535", s)
}

// ParsePortMap parses `scheme:host-port:container-port` (e.g. `http:80:5000`):
// the scheme is http or https, the ports 1 to 65535.
func ParsePortMap(s string) (PortMap, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || !portSchemes[parts[0]] {
		return PortMap{}, invalidPortMap(s)
	}
	host, ok1 := parsePort(parts[1])
	container, ok2 := parsePort(parts[2])
	if !ok1 || !ok2 {
		return PortMap{}, invalidPortMap(s)
	}
	return PortMap{Scheme: parts[0], Host: host, Container: container}, nil
}

// ParsePortSelector parses what ports:remove takes: a whole map, a host port
// alone (`80`: every map of that host port) or `scheme:host-port`. Scheme ""
// and Container 0 match anything.
func ParsePortSelector(s string) (PortMap, error) {
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 1:
		if host, ok := parsePort(parts[0]); ok {
			return PortMap{Host: host}, nil
		}
	case 2:
		if host, ok := parsePort(parts[1]); ok && portSchemes[parts[0]] {
			return PortMap{Scheme: parts[0], Host: host}, nil
		}
	case 3:
		return ParsePortMap(s)
	}
	return PortMap{}, Invalidf("Invalid port map %s: expected a host port, scheme:host-port or scheme:host-port:container-port", s)
}

// Matches reports whether map m is selected by selector p (see
// ParsePortSelector).
func (p PortMap) Matches(m PortMap) bool {
	return p.Host == m.Host && (p.Scheme == "" || p.Scheme == m.Scheme) && (p.Container == 0 || p.Container == m.Container)
}

// ParsePortMaps parses a space-separated list of maps (the stored form).
func ParsePortMaps(s string) ([]PortMap, error) {
	var maps []PortMap
	for _, f := range strings.Fields(s) {
		m, err := ParsePortMap(f)
		if err != nil {
			return nil, err
		}
		maps = append(maps, m)
	}
	return maps, nil
}

// NormalizePortMaps drops duplicates and sorts maps as Dokku stores them; a
// scheme and host port mapped to two container ports is refused, since the
// proxy could serve only one of them.
func NormalizePortMaps(maps []PortMap) ([]PortMap, error) {
	seen := map[string]PortMap{}
	var out []PortMap
	for _, m := range maps {
		key := fmt.Sprintf("%s:%d", m.Scheme, m.Host)
		if prev, ok := seen[key]; ok {
			if prev.Container != m.Container {
				return nil, Invalidf("Port maps %s and %s both map %s: a scheme and host port go to one container port", prev, m, key)
			}
			continue
		}
		seen[key] = m
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// FormatPortMaps returns maps in the stored form: space-separated.
func FormatPortMaps(maps []PortMap) string {
	s := make([]string, len(maps))
	for i, m := range maps {
		s[i] = m.String()
	}
	return strings.Join(s, " ")
}
