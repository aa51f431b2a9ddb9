package gitserver

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/settings"
	"github.com/berthpaas/berth/internal/store"
	"golang.org/x/crypto/ssh"
)

// TestAuthorizedKeysFollowsTheConfigFile: a new BERTH_AUTHORIZED_KEYS in
// the config file is applied without a restart: the keys are written to
// the new file (at the next look, or before the next key change).
func TestAuthorizedKeysFollowsTheConfigFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	conf := filepath.Join(dir, "berth.conf")
	a, b := filepath.Join(dir, "a_keys"), filepath.Join(dir, "b_keys")
	os.WriteFile(conf, []byte("BERTH_AUTHORIZED_KEYS="+a+"\n"), 0o600)
	s0, err := settings.Load(func(k string) string {
		if k == "BERTH_DATA_DIR" {
			return dir
		}
		return ""
	}, map[string]string{"BERTH_OPENSSH": "off"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(Config{Store: st, Settings: s0, BerthBin: "/usr/local/bin/berth", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	add := func(name string) {
		pub, _, _ := ed25519.GenerateKey(nil)
		k, _ := ssh.NewPublicKey(pub)
		if _, err := s.keysAdd(ctx, api.KeyAdd{Name: name, PublicKey: string(ssh.MarshalAuthorizedKey(k))}, api.Output{}); err != nil {
			t.Fatal(err)
		}
	}
	add("one")
	if got, _ := os.ReadFile(a); !strings.Contains(string(got), " one\n") {
		t.Fatalf("%s: %q", a, got)
	}

	os.WriteFile(conf, []byte("BERTH_AUTHORIZED_KEYS="+b+"\n"), 0o600)
	os.Chtimes(conf, time.Now().Add(time.Second), time.Now().Add(time.Second)) // a new mtime, however coarse the clock
	s.ReloadSettings(ctx)
	if got, _ := os.ReadFile(b); !strings.Contains(string(got), " one\n") {
		t.Errorf("after the config change, %s: %q", b, got)
	}
	add("two")
	if got, _ := os.ReadFile(b); !strings.Contains(string(got), " two\n") {
		t.Errorf("a key added after the change is not in %s: %q", b, got)
	}
	if r, _ := s.keysReport(ctx, api.Empty{}, api.Output{}); r.OpenSSH.AuthorizedKeys != b || !r.OpenSSH.InStep {
		t.Errorf("report: %+v", r.OpenSSH)
	}

	// A config file that does not load changes nothing.
	os.WriteFile(conf, []byte("NOT_A_SETTING=1\n"), 0o600)
	os.Chtimes(conf, time.Now().Add(2*time.Second), time.Now().Add(2*time.Second))
	s.ReloadSettings(ctx)
	if r, _ := s.keysReport(ctx, api.Empty{}, api.Output{}); r.OpenSSH.AuthorizedKeys != b {
		t.Errorf("after a bad config file: %+v", r.OpenSSH)
	}
}
