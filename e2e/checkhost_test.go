package e2e

import (
	"strings"
	"testing"
)

// TestChecksSendTheAppsDomain: a web process that answers 400 unless the
// Host is its domain (Django with ALLOWED_HOSTS, as the seed's) passes a
// relative CHECKS path once the app has that domain, because the check
// sends the app's first domain; without a domain the check fails and says
// what it sent; a host written in CHECKS is sent as written.
func TestChecksSendTheAppsDomain(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "checks:set", "--global", "wait-to-retire", "0")
	files := func(checks string) map[string]string {
		return map[string]string{
			"Dockerfile": dockerfile("v1", "ENV ALLOWED_HOST=.yourdomain.test"),
			"Procfile":   "web: testapp web\n",
			"CHECKS":     "WAIT=1\nATTEMPTS=3\nTIMEOUT=2\n" + checks,
		}
	}

	// With a domain: the relative path passes.
	d.mustBerth(t, "apps:create", "site")
	d.mustBerth(t, "domains:add", "site", "*.yourdomain.test", "www.yourdomain.test")
	if out, code := d.deployTar(t, "site", appTar(t, files("/ version=v1\n"))); code != 0 {
		t.Fatalf("deploy with a domain: %d\n%s", code, out)
	}
	if code, body := served(t, d, "www.yourdomain.test", "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
		t.Errorf("not served: %d %q", code, body)
	}

	// Without a domain: 400, and the failure says the URL and Host sent.
	d.mustBerth(t, "apps:create", "bare")
	out, code := d.deployTar(t, "bare", appTar(t, files("/ version=v1\n")))
	if code == 0 || !strings.Contains(out, "400 Bad Request (sent to http://127.0.0.1:") || !strings.Contains(out, "/ with Host: 127.0.0.1:") {
		t.Errorf("deploy without a domain: exit %d, want a failed check naming the URL and Host:\n%s", code, out)
	}

	// A host written in CHECKS is sent as written, domain or not.
	if out, code := d.deployTar(t, "bare", appTar(t, files("//www.yourdomain.test/ version=v1\n"))); code != 0 {
		t.Fatalf("deploy with //host/ in CHECKS: %d\n%s", code, out)
	}
}
