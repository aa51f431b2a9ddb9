package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// The tests below take subnets from pools of their own (10.221-225.0.0/16),
// apart from Berth's default (10.210.0.0/16) that daemons under test use.

// ensurePooled creates the network name from pool and removes it when the
// test ends.
func (f *engineFixture) ensurePooled(name string, pool SubnetPool) error {
	f.t.Helper()
	f.t.Cleanup(func() { f.removeNetworkLater(name) })
	return f.c.EnsureNetwork(f.ctx, name, f.labels(), pool)
}

func (f *engineFixture) removeNetworkLater(name string) {
	ctx, cancel := cleanupCtx()
	defer cancel()
	if err := f.c.RemoveNetwork(ctx, name); err != nil {
		f.t.Errorf("cleanup: %v", err)
	}
}

// engineSubnets maps every network on the engine to its IPv4 subnets.
func (f *engineFixture) engineSubnets() map[string][]netip.Prefix {
	f.t.Helper()
	list, err := f.c.api.NetworkList(f.ctx, client.NetworkListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	m := map[string][]netip.Prefix{}
	for _, n := range list.Items {
		for _, cfg := range n.IPAM.Config {
			if cfg.Subnet.Addr().Is4() {
				m[n.Name] = append(m[n.Name], cfg.Subnet)
			}
		}
	}
	return m
}

// checkApart checks that each of names has one subnet of pool's size in
// pool, and that it overlaps no other network's on the engine.
func (f *engineFixture) checkApart(names []string, pool SubnetPool) map[string]netip.Prefix {
	f.t.Helper()
	all := f.engineSubnets()
	got := map[string]netip.Prefix{}
	for _, name := range names {
		subs := all[name]
		if len(subs) != 1 || subs[0].Bits() != pool.Bits || !pool.Pool.Contains(subs[0].Addr()) {
			f.t.Fatalf("network %s has subnets %v, want one /%d in %v", name, subs, pool.Bits, pool.Pool)
		}
		got[name] = subs[0]
	}
	for name, sub := range got {
		for other, osubs := range all {
			for _, o := range osubs {
				if other != name && o.Overlaps(sub) {
					f.t.Errorf("network %s (%v) overlaps network %s (%v)", name, sub, other, o)
				}
			}
		}
	}
	return got
}

// TestEnsureNetworkFromPool: five networks get distinct subnets of the
// pool's size inside it, apart from every other network on the engine;
// ensuring an existing one again keeps its subnet.
func TestEnsureNetworkFromPool(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pool := SubnetPool{Pool: netip.MustParsePrefix("10.221.0.0/16"), Bits: 26}
	var names []string
	for i := range 5 {
		name := f.name(fmt.Sprintf("pool%d", i))
		names = append(names, name)
		if err := f.ensurePooled(name, pool); err != nil {
			t.Fatal(err)
		}
	}
	before := f.checkApart(names, pool)
	if err := f.c.EnsureNetwork(f.ctx, names[0], f.labels(), pool); err != nil {
		t.Fatal(err)
	}
	if after := f.checkApart(names, pool); after[names[0]] != before[names[0]] {
		t.Errorf("ensuring %s again moved it from %v to %v", names[0], before[names[0]], after[names[0]])
	}
}

// TestEnsureNetworkRivalTakesTheSubnet: another process creates a network
// on the very subnet EnsureNetwork chose, between its choice and its
// create; the engine refuses the overlap, and EnsureNetwork takes another.
func TestEnsureNetworkRivalTakesTheSubnet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pool := SubnetPool{Pool: netip.MustParsePrefix("10.222.0.0/16"), Bits: 24}
	name, rival := f.name("raced"), f.name("rival")
	t.Cleanup(func() { f.removeNetworkLater(rival) })
	var taken []netip.Prefix
	beforeCreate.Store(name, func(ctx context.Context, subnet netip.Prefix) {
		if len(taken) > 0 {
			return // only the first choice is raced
		}
		taken = append(taken, subnet)
		_, err := f.c.api.NetworkCreate(ctx, rival, client.NetworkCreateOptions{Driver: "bridge", Labels: f.labels(),
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}}})
		if err != nil {
			t.Errorf("rival's create on %v: %v", subnet, err)
		}
	})
	t.Cleanup(func() { beforeCreate.Delete(name) })
	if err := f.ensurePooled(name, pool); err != nil {
		t.Fatal(err)
	}
	got := f.checkApart([]string{name, rival}, pool)
	if len(taken) != 1 || got[rival] != taken[0] || got[name] == taken[0] {
		t.Errorf("raced for %v: the rival has %v, EnsureNetwork %v", taken, got[rival], got[name])
	}
}

// poolHelperEnv makes the test binary a second creator process (see
// TestEnsureNetworkProcessesRace).
const poolHelperEnv = "BERTH_TEST_POOL_HELPER"

// TestPoolHelperProcess is not a test: run by TestEnsureNetworkProcessesRace
// with poolHelperEnv set to "POOL NAME...", it creates the networks.
func TestPoolHelperProcess(t *testing.T) {
	args := strings.Fields(os.Getenv(poolHelperEnv))
	if len(args) < 2 {
		return
	}
	c := newEngineClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := SubnetPool{Pool: netip.MustParsePrefix(args[0]), Bits: 24}
	for _, name := range args[1:] {
		if err := c.EnsureNetwork(ctx, name, map[string]string{testLabel: "helper"}, pool); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEnsureNetworkProcessesRace: three processes create networks from the
// same pool at the same time; every network gets a subnet of its own.
func TestEnsureNetworkProcessesRace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pool := SubnetPool{Pool: netip.MustParsePrefix("10.223.0.0/16"), Bits: 24}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for p := range 3 {
		mine := []string{f.name(fmt.Sprintf("p%da", p)), f.name(fmt.Sprintf("p%db", p))}
		for _, n := range mine {
			t.Cleanup(func() { f.removeNetworkLater(n) })
		}
		names = append(names, mine...)
		cmd := exec.CommandContext(f.ctx, exe, "-test.run=^TestPoolHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), poolHelperEnv+"="+pool.Pool.String()+" "+strings.Join(mine, " "))
		cmd.Dir = filepath.Dir(exe)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[p] = fmt.Errorf("helper %d: %v\n%s", p, err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	f.checkApart(names, pool)
}

// TestEnsureNetworkPoolExhausted: a pool with no subnet left is one line
// that names the pool and matches ErrPoolExhausted, and creates nothing.
func TestEnsureNetworkPoolExhausted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A pool of one /24: the first free one in 10.224.0.0/16.
	used, _, err := f.c.usedSubnets(f.ctx, netip.MustParsePrefix("10.224.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	one, ok := nextSubnet(netip.MustParsePrefix("10.224.0.0/16"), 24, used)
	if !ok {
		t.Fatal("no free /24 in 10.224.0.0/16")
	}
	pool := SubnetPool{Pool: one, Bits: 24}
	if err := f.ensurePooled(f.name("only"), pool); err != nil {
		t.Fatal(err)
	}
	full := f.name("full")
	err = f.ensurePooled(full, pool)
	if !errors.Is(err, ErrPoolExhausted) || !strings.Contains(err.Error(), "no free /24 subnet left in the address pool "+one.String()) {
		t.Fatalf("EnsureNetwork in a full pool = %v, want ErrPoolExhausted naming %v", err, one)
	}
	checkOneLine(t, err)
	if same, err := f.c.networksNamed(f.ctx, full); err != nil || len(same) != 0 {
		t.Errorf("networks named %s after the refusal: %v, %v", full, same, err)
	}
}

// TestEnsureNetworkPoolUnderHostRoute: a pool covered by a host route (a
// VPN's, say) has no subnet to give; the error names the route. (Not
// parallel: it points routesFile elsewhere while no other test runs.)
func TestEnsureNetworkPoolUnderHostRoute(t *testing.T) {
	f := newFixture(t)
	routes := filepath.Join(t.TempDir(), "route")
	text := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
		"wg9\t0000E10A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n" // 10.225.0.0/16
	if err := os.WriteFile(routes, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	old := routesFile
	routesFile = routes
	t.Cleanup(func() { routesFile = old })
	name := f.name("routed")
	err := f.ensurePooled(name, SubnetPool{Pool: netip.MustParsePrefix("10.225.0.0/16"), Bits: 24})
	if !errors.Is(err, ErrPoolExhausted) || !strings.Contains(err.Error(), "10.225.0.0/16 (wg9)") {
		t.Fatalf("EnsureNetwork under a host route = %v, want ErrPoolExhausted naming the route", err)
	}
	if same, err := f.c.networksNamed(f.ctx, name); err != nil || len(same) != 0 {
		t.Errorf("networks named %s after the refusal: %v, %v", name, same, err)
	}
}
