package release

import "github.com/berthpaas/berth/internal/app"

// splitWords splits a command line into words with shell quoting rules (see
// app.SplitWords).
func splitWords(s string) ([]string, error) { return app.SplitWords(s) }
