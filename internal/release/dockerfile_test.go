package release

import (
	"slices"
	"testing"
)

func TestDockerfileImages(t *testing.T) {
	for _, tc := range []struct {
		name string
		df   string
		args map[string]string
		want []string
	}{
		{"plain", "FROM berth/blog:3\nRUN echo\n", nil, []string{"berth/blog:3"}},
		{"lowercase and platform", "# c\nfrom --platform=linux/amd64 berth/blog:3 as base\nFROM base\n", nil, []string{"berth/blog:3"}},
		{"arg default", "ARG APP=blog\nARG N\nFROM berth/${APP}:$N\n", map[string]string{"N": "4"}, []string{"berth/blog:4"}},
		{"arg overridden", "ARG IMG=alpine\nFROM $IMG\n", map[string]string{"IMG": "berth/blog:1"}, []string{"berth/blog:1"}},
		{"arg fallback", "FROM ${IMG:-berth/blog:2}\n", nil, []string{"berth/blog:2"}},
		{"multi-stage copy", "FROM golang AS build\nRUN go build\nFROM scratch\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\nCOPY --chown=1 --from=berth/blog:5 / /\n", nil, []string{"golang", "berth/blog:5"}},
		{"mount from", "FROM alpine\nRUN --mount=type=bind,from=berth/blog:6,target=/x \\\n  cat /x/env\n", nil, []string{"alpine", "berth/blog:6"}},
		{"continuation", "FROM \\\n  berth/blog:7\n", nil, []string{"berth/blog:7"}},
		{"unresolved", "FROM $NOPE\n", nil, []string{"$NOPE"}},
	} {
		if got := DockerfileImages([]byte(tc.df), tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
