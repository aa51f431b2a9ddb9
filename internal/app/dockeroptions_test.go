package app

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseDockerOptionArg(t *testing.T) {
	tests := []struct {
		phase, arg string
		want       DockerOption
	}{
		{"build", "--build-arg KEY", DockerOption{"--build-arg", "KEY"}},
		{"build", "--build-arg KEY=VAL", DockerOption{"--build-arg", "KEY=VAL"}},
		{"build", "--build-arg=KEY=VAL", DockerOption{"--build-arg", "KEY=VAL"}},
		{"build", "--build-arg=KEY", DockerOption{"--build-arg", "KEY"}},
		{"build", "--build-arg\tKEY", DockerOption{"--build-arg", "KEY"}},
		{"build", "  --build-arg   _K1=a b=c  ", DockerOption{"--build-arg", "_K1=a b=c"}},
		{"build", "--build-arg KEY=", DockerOption{"--build-arg", "KEY="}},
		{"build", "--build-arg=KEY=a b", DockerOption{"--build-arg", "KEY=a b"}},
		{"build", "--build-arg KEY=x=y", DockerOption{"--build-arg", "KEY=x=y"}},
		{"build", "--no-cache", DockerOption{"--no-cache", ""}},
		{"build", " --no-cache ", DockerOption{"--no-cache", ""}},
	}
	for _, tc := range tests {
		got, err := ParseDockerOptionArg(tc.phase, tc.arg)
		if err != nil {
			t.Errorf("ParseDockerOptionArg(%q, %q): %v", tc.phase, tc.arg, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseDockerOptionArg(%q, %q) = %#v, want %#v", tc.phase, tc.arg, got, tc.want)
		}
		// What is stored reads back the same.
		back, err := ParseDockerOptions(got.String())
		if err != nil || len(back) != 1 || back[0] != got {
			t.Errorf("ParseDockerOptions(%q) = %#v, %v; want [%#v]", got.String(), back, err, got)
		}
	}
}

func TestParseDockerOptionArgRefused(t *testing.T) {
	const supportedList = "supported: build --build-arg, build --no-cache"
	tests := []struct {
		phase, arg string
		want       []string
	}{
		{"build", "--memory 1g", []string{`"--memory"`, "phase build", supportedList}},
		{"build", "--memory=1g", []string{`"--memory"`, supportedList}},
		{"build", "-v /a:/b", []string{`"-v"`, supportedList}},
		{"build", "", []string{`""`, supportedList}},
		{"deploy", "--build-arg KEY", []string{`"--build-arg"`, "phase deploy", supportedList}},
		{"deploy", "--restart=always", []string{`"--restart"`, "phase deploy", supportedList}},
		{"run", "--no-cache", []string{`"--no-cache"`, "phase run", supportedList}},
		{"nonsense", "--no-cache", []string{"nonsense", supportedList}},
		{"", "--no-cache", []string{supportedList}},
		{"BUILD", "--no-cache", []string{supportedList}},
		{"build", "--build-arg", []string{"--build-arg needs a value"}},
		{"build", "--build-arg ", []string{"--build-arg needs a value"}},
		{"build", "--build-arg=", []string{"--build-arg needs a value"}},
		{"build", "--build-arg 1KEY", []string{"Invalid key name", "1KEY"}},
		{"build", "--build-arg =VAL", []string{"Invalid key name"}},
		{"build", "--build-arg=-x=1", []string{"Invalid key name"}},
		{"build", "--build-arg KE-Y=1", []string{"Invalid key name"}},
		{"build", "--build-arg KEY VAL", []string{"Invalid key name"}},
		{"build", "--no-cache=x", []string{"--no-cache takes no value"}},
		{"build", "--no-cache=", []string{"--no-cache takes no value"}},
		{"build", "--no-cache true", []string{"--no-cache takes no value"}},
		// Options are stored one per line: a line break in a value would
		// smuggle in a second, unchecked option.
		{"build", "--build-arg KEY=a\n--no-cache", []string{"--build-arg", "line break"}},
		{"build", "--build-arg=KEY=a\r\nb", []string{"--build-arg", "line break"}},
		{"build", "--build-arg KEY=a\x00b", []string{"--build-arg"}},
		{"build", "--build-arg KEY\n--no-cache", []string{"--build-arg"}},
	}
	for _, tc := range tests {
		got, err := ParseDockerOptionArg(tc.phase, tc.arg)
		if err == nil {
			t.Errorf("ParseDockerOptionArg(%q, %q) = %#v, want an error", tc.phase, tc.arg, got)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseDockerOptionArg(%q, %q) error %v is not ErrInvalid", tc.phase, tc.arg, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseDockerOptionArg(%q, %q) error %q does not contain %q", tc.phase, tc.arg, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseDockerOptionArg(%q, %q) error %q has more than one line", tc.phase, tc.arg, err)
		}
		if got != (DockerOption{}) {
			t.Errorf("ParseDockerOptionArg(%q, %q) returned %#v with an error", tc.phase, tc.arg, got)
		}
	}
}

func TestParseDockerOptions(t *testing.T) {
	tests := []struct {
		stored string
		want   []DockerOption
	}{
		{"", nil},
		{"\n \n", nil},
		{"--no-cache", []DockerOption{{"--no-cache", ""}}},
		{"--build-arg KEY\n--build-arg B=x y\r\n\n  --no-cache  \n", []DockerOption{{"--build-arg", "KEY"}, {"--build-arg", "B=x y"}, {"--no-cache", ""}}},
		{"--build-arg   KEY=1", []DockerOption{{"--build-arg", "KEY=1"}}},
	}
	for _, tc := range tests {
		got, err := ParseDockerOptions(tc.stored)
		if err != nil {
			t.Errorf("ParseDockerOptions(%q): %v", tc.stored, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ParseDockerOptions(%q) = %#v, want %#v", tc.stored, got, tc.want)
		}
	}
}

func TestDockerOptionString(t *testing.T) {
	for _, tc := range []struct {
		o    DockerOption
		want string
	}{
		{DockerOption{"--no-cache", ""}, "--no-cache"},
		{DockerOption{"--build-arg", "K=V"}, "--build-arg K=V"},
	} {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.o, got, tc.want)
		}
	}
}
