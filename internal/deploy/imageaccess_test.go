package deploy

import (
	"testing"

	"github.com/berthpaas/berth/internal/naming"
)

func TestImageOwner(t *testing.T) {
	n := naming.Names{Prefix: "bt1"}
	mine := map[string]string{naming.LabelInstance: n.Instance(), naming.LabelApp: "blog"}
	other := map[string]string{naming.LabelInstance: "another", naming.LabelApp: "blog"}
	for _, tc := range []struct {
		ref     string
		labels  map[string]string
		allowed []string
		want    string
	}{
		{"bt1-berth/blog:3", nil, []string{"shop"}, "blog"},
		{"bt1-berth/blog", nil, []string{"shop"}, "blog"},
		{"bt1-berth/blog@sha256:abc", nil, []string{"shop"}, "blog"},
		{"bt1-berth/blog:3", nil, []string{"shop", "blog"}, ""},
		{"bt1-berth/shop:3", nil, []string{"shop"}, ""},
		{"sha256:0123", mine, []string{"shop"}, "blog"}, // by its labels
		{"mytag:latest", mine, []string{"blog"}, ""},    // allowed
		{"mytag:latest", other, []string{"shop"}, ""},   // another instance's
		{"alpine:3", nil, []string{"shop"}, ""},
		{"berth/blog:3", nil, []string{"shop"}, ""}, // not this instance's repository
		{"localhost:5000/x:1", nil, []string{"shop"}, ""},
	} {
		if got := imageOwner(n, tc.ref, tc.labels, tc.allowed); got != tc.want {
			t.Errorf("imageOwner(%q, %v, %v) = %q, want %q", tc.ref, tc.labels, tc.allowed, got, tc.want)
		}
	}
}
