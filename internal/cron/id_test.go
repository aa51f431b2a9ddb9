package cron

import "testing"

func TestBase36MatchesDokku(t *testing.T) {
	t.Parallel()
	// From Dokku's cron-3.bats: the ID of the injected task "@daily;/bin/true".
	if got := base36([]byte("@daily;;;/bin/true")); got != "5cruaotm4yzzpnjlsdunblj8qyjp" {
		t.Fatalf("base36 = %q", got)
	}
	if got := base36([]byte{0, 0, 1}); got != "001" {
		t.Fatalf("leading zeros: %q", got)
	}
	if ID("a", "b", "c") == ID("a", "b", "d") {
		t.Fatal("IDs of different schedules collide")
	}
}
