package release

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/app"
)

// TestExtractArchiveLimits: git:set --global archive-max-files and
// archive-max-size bound what git:from-archive unpacks; over a bound the
// archive is refused, saying which setting, and nothing is left.
func TestExtractArchiveLimits(t *testing.T) {
	data := makeTar(t, file("a", "12345"), file("b", "67890"), file("c", "x"))
	for _, c := range []struct {
		name string
		l    Limits
		want string
	}{
		{"no limits", Limits{}, ""},
		{"within", Limits{Files: 3, Bytes: 11}, ""},
		{"files", Limits{Files: 2}, "more than 2 entries (git:set --global archive-max-files)"},
		{"bytes", Limits{Bytes: 10}, "more than 10 bytes (git:set --global archive-max-size)"},
	} {
		dir := filepath.Join(t.TempDir(), "src")
		err := ExtractArchiveLimited(bytes.NewReader(data), dir, c.l)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, app.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the partial tree is left: %v", c.name, err)
		}
	}
}
