package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDoctor (issue 13): berth doctor on a clean instance finds nothing and
// exits 0; with a domain that resolves elsewhere, one that does not
// resolve, a custom certificate expiring in two days and a service whose
// last backup failed, it prints each problem with its fix and exits 1. DNS
// answers come from a server this test runs on 127.0.0.1
// (BERTH_DNS_SERVER): no lookup leaves the host.
func TestDoctor(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	dns := fakeDNS(t, map[string]net.IP{"here.test.": net.IPv4(127, 0, 0, 1), "elsewhere.test.": net.IPv4(192, 0, 2, 1)})
	d := serviceDaemon(t, eng, "BERTH_DNS_SERVER="+dns)
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "domains:set", "shop", "here.test", "shop.localhost")

	out, code := d.berth("doctor")
	if code != 0 || !strings.Contains(out, "No problems found") {
		t.Fatalf("doctor on a clean instance: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"ok       Docker: version ",
		"ok       clock: within 5s of the engine's",
		"ok       port " + d.proxyAddr + " (BERTH_HTTP_ADDR): the berth proxy listens (berth (pid ",
		"ok       port " + d.proxyTLSAddr + " (BERTH_HTTPS_ADDR): the berth proxy listens",
		"ok       port " + d.sshAddr + " (BERTH_SSH_ADDR): the berth daemon listens",
		"ok       data dir " + d.dataDir + ": ",
		"ok       Docker's data root ",
		"ok       here.test (app shop): resolves to this host (127.0.0.1)",
		"ok       shop.localhost (app shop): a .localhost name",
		"ok       OpenSSH mode: off (BERTH_OPENSSH=off)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("clean doctor lacks %q:\n%s", want, out)
		}
	}

	// The problems.
	d.mustBerth(t, "domains:add", "shop", "elsewhere.test", "gone.test")
	crt, key := shortCert(t, "here.test", 48*time.Hour)
	d.mustBerth(t, "certs:add", "shop", crt, key)
	d.mustBerth(t, "redis:create", "cache")
	backups := t.TempDir()
	d.mustBerth(t, "redis:backup-schedule", "cache", "0 3 1 1 *", backups)
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	if out, code := d.berth("redis:backup", "cache", filepath.Join(notDir, "sub")); code == 0 {
		t.Fatalf("a backup into a file's subdirectory worked:\n%s", out)
	}

	out, code = d.berth("doctor")
	if code != 1 {
		t.Errorf("doctor with problems: exit %d, want 1\n%s", code, out)
	}
	expiry := time.Now().Add(48 * time.Hour).UTC().Format("2006-01-02")
	for _, want := range []string{
		"PROBLEM  elsewhere.test (app shop): resolves to 192.0.2.1, not to this host (",
		"         fix: point elsewhere.test's A/AAAA records at ",
		", or remove it: berth domains:remove shop elsewhere.test\n",
		"PROBLEM  gone.test (app shop): does not resolve (no such name)\n",
		"or remove it: berth domains:remove shop gone.test\n",
		"PROBLEM  certificate of shop (here.test): custom certificate expires on " + expiry,
		"         fix: berth certs:update shop server.crt server.key (a renewed certificate)\n",
		"PROBLEM  redis cache: the last backup failed (",
		"         fix: berth redis:backup cache " + backups + " (retries now and shows the error)\n",
		"ok       here.test (app shop): resolves to this host",
		"4 problems found.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}

	// Over ssh: an admin key gets the same report and exit code; a key
	// scoped to an app is refused.
	keys := t.TempDir()
	admin, dev := sshKey(t, keys, "admin"), sshKey(t, keys, "dev")
	d.mustBerth(t, "ssh-keys:add", "admin", admin+".pub")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", dev+".pub")
	if out, code := sshRun(t, admin, "berth", d.sshAddr, nil, "doctor"); code != 1 || !strings.Contains(out, "4 problems found.") {
		t.Errorf("doctor over ssh: exit %d\n%s", code, out)
	}
	if out, code := sshRun(t, dev, "berth", d.sshAddr, nil, "doctor"); code == 0 || strings.Contains(out, "problems found") {
		t.Errorf("doctor over ssh with a scoped key: exit %d\n%s", code, out)
	}

	// The same as JSON, with the same exit code.
	js, code := d.berth("doctor", "--format", "json")
	if code != 1 {
		t.Errorf("doctor --format json: exit %d, want 1", code)
	}
	var r struct {
		Checks []struct {
			Check, Subject, Message, Fix string
			OK                           bool
		}
	}
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatalf("doctor --format json: %v\n%s", err, js)
	}
	problems := map[string]string{}
	for _, c := range r.Checks {
		if !c.OK {
			problems[c.Check+" "+c.Subject] = c.Fix
		}
	}
	if len(problems) != 4 || problems["domain gone.test (app shop)"] == "" || problems["backup redis cache"] == "" {
		t.Errorf("json problems: %v", problems)
	}

	// Fixed: the domains removed, the backup retried, the certificate
	// renewed: back to exit 0.
	d.mustBerth(t, "domains:remove", "shop", "elsewhere.test", "gone.test")
	d.mustBerth(t, "redis:backup", "cache", backups)
	crt, key = shortCert(t, "here.test", 90*24*time.Hour)
	d.mustBerth(t, "certs:update", "shop", crt, key)
	if out, code := d.berth("doctor"); code != 0 {
		t.Errorf("doctor after the fixes: exit %d\n%s", code, out)
	}
}

// shortCert writes a self-signed certificate for name valid for life, and
// its key, and returns their paths.
func shortCert(t *testing.T, name string, life time.Duration) (string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(life), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return crt, key
}

// fakeDNS serves A records for names on 127.0.0.1 (UDP) and answers
// NXDOMAIN for every other name; it returns its address.
func fakeDNS(t *testing.T, records map[string]net.IP) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], records); resp != nil {
				pc.WriteTo(resp, addr)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// dnsAnswer answers one query (RFC 1035 wire format): the A record of a
// known name, an empty answer for its other types, NXDOMAIN otherwise.
func dnsAnswer(q []byte, records map[string]net.IP) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels, then type and class.
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	i++ // the root label
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	name := strings.ToLower(strings.Join(labels, ".")) + "."
	ip, known := records[name]

	resp := make([]byte, 12, 512)
	copy(resp, q[:2])                                              // ID
	binary.BigEndian.PutUint16(resp[2:], 0x8180|uint16(q[2]&1)<<8) // QR, RD (as asked), RA
	if !known {
		resp[3] |= 3 // NXDOMAIN
	}
	binary.BigEndian.PutUint16(resp[4:], 1) // QDCOUNT
	resp = append(resp, question...)
	if known && qtype == 1 {
		binary.BigEndian.PutUint16(resp[6:], 1) // ANCOUNT
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		resp = append(resp, ip.To4()...)
	}
	return resp
}
