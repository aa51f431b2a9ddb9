package app

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitDockerOptions(t *testing.T) {
	tests := []struct {
		in        string
		opts      []string
		processes []string
	}{
		{"-v /tmp", []string{"-v /tmp"}, nil},
		{"--build-arg X=Y --link foo --link bar", []string{"--build-arg X=Y", "--link foo", "--link bar"}, nil},
		{`--build-arg GITHUB_TOKEN="hello"`, []string{"--build-arg GITHUB_TOKEN=hello"}, nil},
		{"--label=com.dokku.test=$(id)", []string{"'--label=com.dokku.test=$(id)'"}, nil},
		{"--link foo --process web", []string{"--link foo"}, []string{"web"}},
		{"--process=worker -p 80:5000", []string{"-p 80:5000"}, []string{"worker"}},
		{"--label com.example.description=my app", []string{"--label com.example.description=my app"}, nil},
		{"--label 'a=my app'", []string{"--label 'a=my app'"}, nil},
		{"  ", nil, nil},
	}
	for _, tc := range tests {
		opts, procs, err := SplitDockerOptions(tc.in)
		if err != nil {
			t.Errorf("SplitDockerOptions(%q): %v", tc.in, err)
			continue
		}
		if !slices.Equal(opts, tc.opts) || !slices.Equal(procs, tc.processes) {
			t.Errorf("SplitDockerOptions(%q) = %q, %q; want %q, %q", tc.in, opts, procs, tc.opts, tc.processes)
		}
	}
	for _, bad := range []string{"--process", "--process a b", "-v 'open", "-v /a\n-v /b"} {
		if _, _, err := SplitDockerOptions(bad); err == nil {
			t.Errorf("SplitDockerOptions(%q) accepted", bad)
		}
	}
}

func TestOptionWordsRoundTrip(t *testing.T) {
	for _, words := range [][]string{{"--label", "a=$(id)"}, {"-v", "/a b:/c"}, {"--env", "X='q'"}, {"--x", ""}} {
		if got := OptionWords(JoinWords(words)); !slices.Equal(got, words) {
			t.Errorf("OptionWords(JoinWords(%q)) = %q", words, got)
		}
	}
	if !SameOption("--group-add $(getent group docker | cut -d: -f3)", "--group-add '$(getent' group docker '|' cut -d: '-f3)'") {
		t.Error("an unquoted stored option does not match its canonical form")
	}
}

func TestOptionFlag(t *testing.T) {
	tests := []struct {
		words       []string
		flag, value string
		has         bool
	}{
		{[]string{"--memory", "1g"}, "--memory", "1g", true},
		{[]string{"--memory=1g"}, "--memory", "1g", true},
		{[]string{"-m", "1g"}, "-m", "1g", true},
		{[]string{"--no-cache"}, "--no-cache", "", false},
		{[]string{"--label", "a=my", "app"}, "--label", "a=my app", true},
	}
	for _, tc := range tests {
		f, v, h := OptionFlag(tc.words)
		if f != tc.flag || v != tc.value || h != tc.has {
			t.Errorf("OptionFlag(%q) = %q %q %v", tc.words, f, v, h)
		}
	}
}

func TestBuildOptions(t *testing.T) {
	args, noCache, skipped := BuildOptions("--build-arg MODE=prod\n--build-arg TOKEN\n--no-cache\n--link postgres\n-v /tmp\n--build-arg=A=b")
	if !slices.Equal(args, []string{"MODE=prod", "TOKEN", "A=b"}) || !noCache || !slices.Equal(skipped, []string{"--link postgres", "-v /tmp"}) {
		t.Errorf("BuildOptions = %q %v %q", args, noCache, skipped)
	}
}

func TestDockerOptionScopes(t *testing.T) {
	if _, err := ParseDockerOptionPhases("build,deploy"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "bogus", "build,"} {
		if _, err := ParseDockerOptionPhases(bad); err == nil {
			t.Errorf("phases %q accepted", bad)
		}
	}
	if err := ValidProcessScope([]string{"web"}, []string{"deploy"}); err != nil {
		t.Error(err)
	}
	if err := ValidProcessScope([]string{"web"}, []string{"build", "deploy"}); err == nil || !contains(err.Error(), "deploy phase") {
		t.Errorf("--process on build: %v", err)
	}
	if err := ValidProcessScope([]string{"_default_"}, []string{"deploy"}); err == nil || !contains(err.Error(), "_default_") {
		t.Errorf("_default_: %v", err)
	}
	if DockerOptionsKey("deploy", "web") != "deploy.web" || DockerOptionsKey("run", "") != "run" {
		t.Error("DockerOptionsKey")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
