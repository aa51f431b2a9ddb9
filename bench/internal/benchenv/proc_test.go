package benchenv

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// A command name with spaces and a parenthesis, utime 250, stime 50.
	stat := "1234 (berth (x) serve) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU("1234 (x) S 1"); err == nil {
		t.Fatal("a short line parsed")
	}
}

func TestMemAndCPUOfThisProcess(t *testing.T) {
	t.Parallel()
	m, err := MemOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Anon+m.File > m.RSS+64 {
		t.Fatalf("MemOf = %+v: RSS must be positive and about anon + file", m)
	}
	if _, err := CPUOf(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
