package e2e

import (
	"strings"
	"testing"
)

// TestPortListeningCheck: a web process without checks of its own must
// listen on its port on every interface, as in Dokku. An app that binds
// 127.0.0.1 (the classic Django/Flask mistake) or another port fails to
// deploy with Dokku's message and its last output, while the previous
// release keeps answering; a correct app deploys.
func TestPortListeningCheck(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	start := "Running healthcheck name='port listening check' attempts=3 port=5000 retries=2 timeout=5 type='listening' wait=5"
	for _, tc := range []struct {
		app, listen, want string
	}{
		{"localhost", "127.0.0.1:5000",
			"Failure in name='port listening check': container listening on expected port (5000) with unexpected IPv4 interface: expected=0.0.0.0 actual=127.0.0.1"},
		{"altport", ":5001",
			"Failure in name='port listening check': container listening on expected IPv4 interface with an unexpected port: expected=5000 actual=5001"},
	} {
		t.Run(tc.app, func(t *testing.T) {
			t.Parallel()
			host := tc.app + ".test"
			d.mustBerth(t, "apps:create", tc.app)
			d.mustBerth(t, "domains:add", tc.app, host)
			files := func(version string, extra ...string) map[string]string {
				return map[string]string{"Dockerfile": dockerfile(version, extra...), "Procfile": "web: testapp web\n"}
			}
			out, code := d.deployTar(t, tc.app, appTar(t, files("v1")))
			if code != 0 {
				t.Fatalf("correct app: exit %d\n%s", code, out)
			}
			if !strings.Contains(out, start) || strings.Contains(out, "Failure in") {
				t.Errorf("correct app: no passing port listening check:\n%s", out)
			}

			out, code = d.deployTar(t, tc.app, appTar(t, files("v2", "ENV LISTEN_ADDR="+tc.listen)))
			if code == 0 {
				t.Fatalf("an app listening on %s deployed:\n%s", tc.listen, out)
			}
			for _, w := range []string{start, tc.want, "Last output of web.1:", "listening on " + tc.listen} {
				if !strings.Contains(out, w) {
					t.Errorf("failed deploy lacks %q:\n%s", w, out)
				}
			}
			if code, body := served(t, d, host, "/"); code != 200 || !strings.HasPrefix(body, "version=v1") {
				t.Errorf("the previous release does not answer: %d %q", code, body)
			}
		})
	}
}
