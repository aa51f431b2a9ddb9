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
