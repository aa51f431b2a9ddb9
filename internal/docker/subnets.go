package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/moby/moby/client"
)

// SubnetPool says where the subnet of a network Berth creates comes from:
// the first subnet of Bits bits inside Pool that overlaps no network on the
// engine and no route of the host. Berth takes its subnets from a pool of
// its own so that its networks (one per service, one per linked app) do not
// use up the engine's default address pools (about 30 bridge networks on
// Docker 20.10), which other networks on the host need too. The zero value
// leaves the choice to the engine.
type SubnetPool struct {
	Pool netip.Prefix // an IPv4 range, such as 10.210.0.0/16
	Bits int          // the size of each subnet, such as 24
}

// ErrPoolExhausted reports that a SubnetPool has no free subnet left.
var ErrPoolExhausted = errors.New("address pool exhausted")

// routesFile is where the host's IPv4 routes are read (a variable so that
// a test can point it at a file of its own).
var routesFile = "/proc/net/route"

// valid reports whether p asks for subnets of a pool (rather than the
// engine's choice); a pool whose subnets do not fit in it is an error.
func (p SubnetPool) valid() (bool, error) {
	if !p.Pool.IsValid() {
		return false, nil
	}
	if !p.Pool.Addr().Is4() || p.Bits < p.Pool.Bits() || p.Bits > 30 {
		return false, fmt.Errorf("address pool %s cannot hold /%d subnets", p.Pool, p.Bits)
	}
	return true, nil
}

// nextSubnet returns the first subnet of bits bits inside pool (in address
// order) that overlaps none of used, and false if there is none. Overlap
// covers both ways: a used network inside a candidate, and a candidate
// inside a used network or route.
func nextSubnet(pool netip.Prefix, bits int, used []netip.Prefix) (netip.Prefix, bool) {
	pool = pool.Masked()
	if !pool.Addr().Is4() || bits < pool.Bits() || bits > 32 {
		return netip.Prefix{}, false
	}
	first := ip4(pool.Addr())
	last := uint64(first) + uint64(1)<<(32-pool.Bits()) - 1
	size := uint64(1) << (32 - bits)
	for at := uint64(first); at+size-1 <= last; {
		cand := netip.PrefixFrom(addr4(uint32(at)), bits)
		next := at + size
		free := true
		for _, u := range used {
			if !u.Addr().Is4() || !u.Overlaps(cand) {
				continue
			}
			free = false
			// Skip past the used network, to the next aligned subnet.
			u = u.Masked()
			end := uint64(ip4(u.Addr())) + uint64(1)<<(32-u.Bits())
			if end > next {
				next = (end + size - 1) / size * size
			}
		}
		if free {
			return cand, true
		}
		at = next
	}
	return netip.Prefix{}, false
}

func ip4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func addr4(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// hostRoute is one IPv4 route of the host.
type hostRoute struct {
	Iface string
	Dest  netip.Prefix
}

// hostRoutes reads the host's IPv4 routes, without default routes. A host
// without the file (not Linux) has none that Berth knows of.
func hostRoutes() ([]hostRoute, error) {
	b, err := os.ReadFile(routesFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the host's routes: %w", err)
	}
	return parseRoutes(b)
}

// parseRoutes parses /proc/net/route: a header line, then one route a line
// with the destination and mask as little-endian hex.
func parseRoutes(b []byte) ([]hostRoute, error) {
	var routes []hostRoute
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 0; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 0 || len(f) < 8 {
			continue
		}
		dest, err1 := hexAddr(f[1])
		mask, err2 := hexAddr(f[7])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("route %q: %w", sc.Text(), err)
		}
		ones := 0
		for m := ip4(mask); m&(1<<31) != 0; m <<= 1 {
			ones++
		}
		if ones == 0 {
			continue // a default route
		}
		routes = append(routes, hostRoute{Iface: f[0], Dest: netip.PrefixFrom(dest, ones).Masked()})
	}
	return routes, sc.Err()
}

// hexAddr decodes an IPv4 address as /proc/net/route writes it.
func hexAddr(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("bad address %q", s)
	}
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}), nil
}

// usedSubnets lists the subnets Berth must not take: those of every
// network on the engine (Berth's or not) and the host's routes. It also
// says which routes (other than the engine's bridges) overlap pool, for the
// message of an exhausted pool.
func (c *Client) usedSubnets(ctx context.Context, pool netip.Prefix) (used []netip.Prefix, routesInPool []string, err error) {
	list, err := c.api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, nil, c.wrap(err, "list networks")
	}
	for _, n := range list.Items {
		for _, cfg := range n.IPAM.Config {
			if cfg.Subnet.IsValid() {
				used = append(used, cfg.Subnet)
			}
		}
	}
	routes, err := hostRoutes()
	if err != nil {
		return nil, nil, err
	}
	for _, r := range routes {
		used = append(used, r.Dest)
		if r.Dest.Overlaps(pool) && !strings.HasPrefix(r.Iface, "br-") && r.Iface != "docker0" {
			routesInPool = append(routesInPool, r.Dest.String()+" ("+r.Iface+")")
		}
	}
	return used, routesInPool, nil
}
