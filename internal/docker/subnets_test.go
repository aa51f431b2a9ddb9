package docker

import (
	"net/netip"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

// TestNextSubnet: the first subnet of the pool that overlaps nothing used,
// in either direction, with subnets of mixed sizes and networks outside
// the pool ignored; none when the pool is full or cannot hold the size.
func TestNextSubnet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pool string
		bits int
		used []netip.Prefix
		want string // "" for none
	}{
		{"empty pool", "10.210.0.0/16", 24, nil, "10.210.0.0/24"},
		{"first taken", "10.210.0.0/16", 24, prefixes("10.210.0.0/24"), "10.210.1.0/24"},
		{"small network inside the first", "10.210.0.0/16", 24, prefixes("10.210.0.128/28"), "10.210.1.0/24"},
		{"inside a larger used network", "10.210.0.0/16", 24, prefixes("10.210.0.0/20", "10.210.16.0/24"), "10.210.17.0/24"},
		{"hole between", "10.210.0.0/16", 24, prefixes("10.210.0.0/24", "10.210.2.0/24"), "10.210.1.0/24"},
		{"a /26 fills the hole of a /24", "10.210.0.0/16", 26, prefixes("10.210.0.0/26", "10.210.0.128/26", "10.210.1.0/24"), "10.210.0.64/26"},
		{"a /24 skips a /26", "10.210.0.0/16", 24, prefixes("10.210.0.64/26"), "10.210.1.0/24"},
		{"outside the pool ignored", "10.210.0.0/16", 24, prefixes("172.17.0.0/16", "192.168.0.0/16", "10.211.0.0/24", "fd00::/64"), "10.210.0.0/24"},
		{"pool inside a used network", "10.210.0.0/16", 24, prefixes("10.0.0.0/8"), ""},
		{"full", "10.210.0.0/23", 24, prefixes("10.210.0.0/24", "10.210.1.0/25", "10.210.1.128/25"), ""},
		{"last one", "10.210.0.0/23", 24, prefixes("10.210.0.0/24"), "10.210.1.0/24"},
		{"pool's host bits ignored", "10.210.3.7/16", 24, nil, "10.210.0.0/24"},
		{"size larger than the pool", "10.210.0.0/25", 24, nil, ""},
		{"pool the size of one", "10.210.5.0/24", 24, nil, "10.210.5.0/24"},
		{"top of the address space", "255.255.255.0/24", 26, prefixes("255.255.255.0/25"), "255.255.255.128/26"},
		{"IPv6 pool", "fd00::/48", 64, nil, ""},
	}
	for _, tt := range tests {
		got, ok := nextSubnet(netip.MustParsePrefix(tt.pool), tt.bits, tt.used)
		if tt.want == "" {
			if ok {
				t.Errorf("%s: nextSubnet = %v, want none", tt.name, got)
			}
			continue
		}
		if !ok || got != netip.MustParsePrefix(tt.want) {
			t.Errorf("%s: nextSubnet = %v, %v; want %s", tt.name, got, ok, tt.want)
		}
	}
}

// TestNextSubnetFillsThePool: taking subnets one after another gives every
// subnet of the pool once, then none.
func TestNextSubnetFillsThePool(t *testing.T) {
	t.Parallel()
	pool := netip.MustParsePrefix("10.210.0.0/20")
	var used []netip.Prefix
	for i := range 64 {
		got, ok := nextSubnet(pool, 26, used)
		if !ok {
			t.Fatalf("subnet %d: none left", i)
		}
		for _, u := range used {
			if u.Overlaps(got) {
				t.Fatalf("subnet %d: %v overlaps %v", i, got, u)
			}
		}
		if !pool.Contains(got.Addr()) || got.Bits() != 26 {
			t.Fatalf("subnet %d: %v not a /26 of %v", i, got, pool)
		}
		used = append(used, got)
	}
	if got, ok := nextSubnet(pool, 26, used); ok {
		t.Errorf("after 64 subnets: %v, want none", got)
	}
}

// TestSubnetPoolValid: the zero pool is the engine's choice; a pool that
// cannot hold its subnets is refused.
func TestSubnetPoolValid(t *testing.T) {
	t.Parallel()
	if ok, err := (SubnetPool{}).valid(); ok || err != nil {
		t.Errorf("zero pool: %v, %v", ok, err)
	}
	if ok, err := (SubnetPool{Pool: netip.MustParsePrefix("10.210.0.0/16"), Bits: 24}).valid(); !ok || err != nil {
		t.Errorf("10.210.0.0/16 in /24s: %v, %v", ok, err)
	}
	for _, p := range []SubnetPool{
		{Pool: netip.MustParsePrefix("10.210.0.0/25"), Bits: 24},
		{Pool: netip.MustParsePrefix("10.210.0.0/16"), Bits: 31},
		{Pool: netip.MustParsePrefix("fd00::/48"), Bits: 64},
	} {
		if ok, err := p.valid(); ok || err == nil {
			t.Errorf("%v: %v, %v; want an error", p, ok, err)
		}
	}
}

// TestParseRoutes reads /proc/net/route as Linux writes it: default routes
// left out, destinations and masks little-endian.
func TestParseRoutes(t *testing.T) {
	t.Parallel()
	text := `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0
wg0	0000000A	00000000	0001	0	0	0	000000FF	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
`
	routes, err := parseRoutes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, r.Iface+" "+r.Dest.String())
	}
	want := "docker0 172.17.0.0/16, wg0 10.0.0.0/8, eth0 192.0.2.0/24"
	if strings.Join(got, ", ") != want {
		t.Errorf("routes = %s, want %s", strings.Join(got, ", "), want)
	}
	if _, err := parseRoutes([]byte("Iface\tDestination\nx\tzz\t0\t0\t0\t0\t0\t00\n")); err == nil {
		t.Error("garbage parsed without error")
	}
}
