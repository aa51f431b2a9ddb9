package version

import (
	"regexp"
	"testing"
)

// TestVersion: the default version reads as one (release scripts replace it).
func TestVersion(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(Version) {
		t.Errorf("Version = %q", Version)
	}
}
