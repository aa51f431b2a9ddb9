package e2e

import (
	"context"
	"strings"
	"testing"
)

// TestReleaseImageCarriesNoConfig (issue 13): a predeploy commits its
// container into the release image; the image's metadata must not carry the
// app's config values, while the app still sees them at run time.
func TestReleaseImageCarriesNoConfig(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d := deployDaemon(t, eng)
	d.mustBerth(t, "apps:create", "shop")
	secret := "s3cr3t-7f1c2a9e"
	d.mustBerth(t, "config:set", "--no-restart", "shop", "SECRET_KEY="+secret, "DATABASE_URL=postgres://u:pw-"+secret+"@db/x")
	files := map[string]string{
		"Dockerfile": dockerfile("v1"),
		"Procfile":   "web: testapp web\nrelease: testapp echo release ran\n",
		"app.json":   `{"scripts": {"dokku": {"predeploy": "echo migrated > /migrated.txt"}}}`,
	}
	if out, code := d.deployTar(t, "shop", appTar(t, files)); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, out)
	}
	cs := containers(t, eng, d, "shop")
	web, ok := cs["web.1"]
	if !ok {
		t.Fatalf("no web.1: %v", dynos(cs))
	}
	img, err := eng.InspectImage(context.Background(), web.ImageID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range img.Env {
		if strings.Contains(e, secret) {
			t.Errorf("the release image %v carries a config value: %q", img.Tags, e)
		}
	}
	// The predeploy's files are kept, and the app sees its config.
	if got, code := d.berth("run", "shop", "cat", "/migrated.txt"); code != 0 || got != "migrated\n" {
		t.Errorf("predeploy file in the image: %d %q", code, got)
	}
	if got := dockerExec(t, eng, web.Name, "sh", "-c", "echo $SECRET_KEY"); strings.TrimSpace(got) != secret {
		t.Errorf("web.1 sees SECRET_KEY=%q, want the config value", got)
	}
}
