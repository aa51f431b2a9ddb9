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

// TestScopedKeyMayNotUseAnotherAppsImages (issue 13): a key scoped to shop
// may neither deploy blog's release image (git:from-image) nor build from
// it (a Dockerfile FROM, through an ARG), and nothing of shop changes; an
// admin key may.
func TestScopedKeyMayNotUseAnotherAppsImages(t *testing.T) {
	t.Parallel()
	eng := requireDocker(t)
	d, admin, port := sshDaemon(t, eng)
	limited := sshKey(t, t.TempDir(), "dev")
	d.mustBerth(t, "ssh-keys:add", "--apps", "shop", "dev", limited+".pub")
	d.mustBerth(t, "apps:create", "blog")
	d.mustBerth(t, "apps:create", "shop")
	d.mustBerth(t, "config:set", "--no-restart", "blog", "SECRET_KEY=blog-secret")
	if out, code := d.deployTar(t, "blog", appTar(t, map[string]string{"Dockerfile": dockerfile("v1"), "Procfile": "web: testapp web\n"})); code != 0 {
		t.Fatalf("deploy blog: %d\n%s", code, out)
	}
	blogImage := containers(t, eng, d, "blog")["web.1"].Image
	if blogImage == "" {
		t.Fatal("blog has no web.1")
	}

	out, code := sshRun(t, limited, "berth", d.sshAddr, nil, "git:from-image", "shop", blogImage)
	if want := "Image " + blogImage + " belongs to app blog: a key for shop may not deploy it"; code == 0 || !strings.Contains(out, want) {
		t.Errorf("scoped git:from-image of blog's image: exit %d %q, want %q", code, out, want)
	}
	r := newRepo(t, limited, port, map[string]string{
		"Dockerfile": "ARG BASE=" + blogImage + "\nFROM ${BASE}\nCOPY testapp /usr/local/bin/testapp\n",
		"Procfile":   "web: testapp web\n",
	})
	r.git("remote", "add", "shop", "berth@127.0.0.1:shop")
	out, code = r.try("push", "shop", "main")
	if code == 0 || !strings.Contains(out, "belongs to app blog: a key for shop may not build from it") || strings.Contains(out, "blog-secret") {
		t.Errorf("scoped push FROM blog's image: exit %d\n%s", code, out)
	}
	if cs := containers(t, eng, d, "shop"); len(cs) != 0 {
		t.Errorf("shop runs %v after the refusals", dynos(cs))
	}

	// An admin key may deploy it.
	if out, code := sshRun(t, admin, "berth", d.sshAddr, nil, "git:from-image", "shop", blogImage); code != 0 {
		t.Errorf("admin git:from-image of blog's image: exit %d %q", code, out)
	}
}
