package daemon

import "testing"

// A webhook's URL is its secret: the audit log keeps its host only.
func TestURLHostHidesTheWebhooksPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T000/B000/XXXX": "https://hooks.slack.com/***",
		"http://user:pw@127.0.0.1:8080/hook?token=abc":    "http://127.0.0.1:8080/***",
		"not a url": "***",
	} {
		if got := urlHost(in); got != want {
			t.Errorf("urlHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// S3 credentials and backup passphrases never reach the audit log.
func TestMaskSecretsOfBackups(t *testing.T) {
	fields := map[string]any{"name": "db", "access_key_id": "AKIA", "secret_access_key": "s3cr3t", "passphrase": "pw", "identity": "AGE-SECRET-KEY-1"}
	got := maskSecrets(fields).(map[string]any)
	for _, k := range []string{"secret_access_key", "passphrase", "identity"} {
		if got[k] != "***" {
			t.Errorf("%s = %v, want ***", k, got[k])
		}
	}
	if got["name"] != "db" || got["access_key_id"] != "AKIA" {
		t.Errorf("masked too much: %v", got)
	}
}
