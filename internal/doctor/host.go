package doctor

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The host's own sources, used by the daemon: /proc for listeners,
// statfs for disks, the system's (or a given) DNS resolver, the
// interfaces' addresses.

// ProcListeners reads the listening TCP sockets from /proc/net/tcp{,6} and
// finds their processes through /proc/PID/fd (needs root to see others').
type ProcListeners struct{ Root string } // "" is /proc

// Listeners lists the listening sockets.
func (p ProcListeners) Listeners() ([]Listener, error) {
	root := p.Root
	if root == "" {
		root = "/proc"
	}
	byInode := map[string]netip.AddrPort{}
	for _, f := range []string{"net/tcp", "net/tcp6"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			if f == "net/tcp6" && os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for inode, ap := range parseProcNet(string(b)) {
			byInode[inode] = ap
		}
	}
	owner := socketOwners(root, byInode)
	var ls []Listener
	for inode, ap := range byInode {
		l := Listener{Addr: ap}
		if pid, ok := owner[inode]; ok {
			l.PID = pid
			if b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "comm")); err == nil {
				l.Command = strings.TrimSpace(string(b))
			}
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// parseProcNet reads a /proc/net/tcp table: inode → local address of the
// sockets in state LISTEN (0A).
func parseProcNet(text string) map[string]netip.AddrPort {
	out := map[string]netip.AddrPort{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		ap, ok := parseHexAddr(f[1])
		if ok {
			out[f[9]] = ap
		}
	}
	return out
}

// parseHexAddr reads "0100007F:1F90" (IPv4) or the 32-digit IPv6 form:
// 32-bit words in the host's byte order (little-endian on the hosts Berth
// runs on).
func parseHexAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	ip := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(ip[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}

// socketOwners finds the process holding each socket inode.
func socketOwners(root string, want map[string]netip.AddrPort) map[string]int {
	out := map[string]int{}
	procs, _ := os.ReadDir(root)
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(root, p.Name(), "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(root, p.Name(), "fd", fd.Name()))
			if err != nil {
				continue
			}
			inode, ok := strings.CutPrefix(link, "socket:[")
			if !ok {
				continue
			}
			inode = strings.TrimSuffix(inode, "]")
			if _, ok := want[inode]; ok {
				if _, seen := out[inode]; !seen {
					out[inode] = pid
				}
			}
		}
	}
	return out
}

// Statfs reports a file system's space with statfs(2).
type Statfs struct{}

// Usage reports the file system holding path.
func (Statfs) Usage(path string) (Usage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return Usage{}, err
	}
	bs := uint64(st.Bsize)
	return Usage{Total: st.Blocks * bs, Free: st.Bavail * bs, Inodes: st.Files, IFree: st.Ffree}, nil
}

// NewResolver is the system's resolver, or, with server set (host:port),
// one that asks only that DNS server (BERTH_DNS_SERVER: a local resolver,
// or a test's).
func NewResolver(server string) Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

// InterfaceAddrs are the addresses of this host's interfaces.
func InterfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list this host's addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}
