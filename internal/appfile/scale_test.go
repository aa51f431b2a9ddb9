package appfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseScale(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]int
	}{
		{"seed", "web=1\nworker=1\n", map[string]int{"web": 1, "worker": 1}},
		{"empty", "", map[string]int{}},
		{"comments and blanks", "# scale\n\nweb=3 # three\n  \n\tworker = 0\t\n", map[string]int{"web": 3, "worker": 0}},
		{"crlf and bom", "\xef\xbb\xbfweb=2\r\nworker=4\r\n", map[string]int{"web": 2, "worker": 4}},
		{"no trailing newline", "web=2", map[string]int{"web": 2}},
		{"leading zeros", "web=007", map[string]int{"web": 7}},
		{"largest", "web=2147483647", map[string]int{"web": 2147483647}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScale([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseScale: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseScaleErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no equals", "web=1\nworker 1\n", `DOKKU_SCALE line 2: expected "type=count", found no '=' in "worker 1"`},
		{"invalid type", "Web=1", `DOKKU_SCALE line 1: invalid process type "Web": use only lower-case letters, digits and '-' (a DNS label, such as "web" or "worker-2")`},
		{"empty type", "=1", `DOKKU_SCALE line 1: empty process type`},
		{"missing count", "web=", `DOKKU_SCALE line 1: missing count for process type "web"`},
		{"negative", "\n\nweb=-1", `DOKKU_SCALE line 3: invalid count "-1" for process type "web": must be a whole number from 0 to 2147483647`},
		{"plus sign", "web=+1", `DOKKU_SCALE line 1: invalid count "+1" for process type "web": must be a whole number from 0 to 2147483647`},
		{"non-numeric", "web=two", `DOKKU_SCALE line 1: invalid count "two" for process type "web": must be a whole number from 0 to 2147483647`},
		{"fraction", "web=1.5", `DOKKU_SCALE line 1: invalid count "1.5" for process type "web": must be a whole number from 0 to 2147483647`},
		{"inner space", "web=1 2", `DOKKU_SCALE line 1: invalid count "1 2" for process type "web": must be a whole number from 0 to 2147483647`},
		{"too large", "web=2147483648", `DOKKU_SCALE line 1: invalid count "2147483648" for process type "web": must be a whole number from 0 to 2147483647`},
		{"two equals", "web=1=2", `DOKKU_SCALE line 1: invalid count "1=2" for process type "web": must be a whole number from 0 to 2147483647`},
		{"duplicate", "web=1\nworker=1\nweb=2", `DOKKU_SCALE line 3: duplicate process type "web" (first set on line 1)`},
		{"long type cut", strings.Repeat("w", 70) + "=1", `DOKKU_SCALE line 1: invalid process type "` + strings.Repeat("w", 64) + `"...: longer than 63 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScale([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.File != ScaleFileName || fe.Line == 0 {
				t.Errorf("error %#v is not an *Error with a line for DOKKU_SCALE", err)
			}
		})
	}
}
