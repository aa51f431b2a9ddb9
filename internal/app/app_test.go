package app

import (
	"errors"
	"strings"
	"testing"
)

// dokkuNameMsg is Dokku's message for an app name outside ^[a-z0-9][a-z0-9.-]*$
// (see DOKKU.md, "Command line").
const dokkuNameMsg = "App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens"

func TestValidateNameValid(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"shop",
		"a",
		"0app",
		"9",
		"my-app.example.com",
		"a-b-c",
		"a.b",
		"x1-2.y3",
		strings.Repeat("a", MaxNameLength),
		strings.Repeat("ab.", (MaxNameLength-1)/3) + "z",
	} {
		if err := ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
}

func TestValidateNameInvalid(t *testing.T) {
	t.Parallel()
	tooLong := strings.Repeat("a", MaxNameLength+1)
	tests := []struct {
		name string
		want string // substring of the message
	}{
		// Dokku's own rule, with Dokku's message.
		{"TestApp", dokkuNameMsg},
		{"Shop", dokkuNameMsg},
		{"test_app", dokkuNameMsg},
		{"test;id", dokkuNameMsg},
		{"../x", dokkuNameMsg},
		{"a/b", dokkuNameMsg},
		{"-x", dokkuNameMsg},
		{".x", dokkuNameMsg},
		{"a b", dokkuNameMsg},
		{"app\n", dokkuNameMsg},
		{"\napp", dokkuNameMsg},
		{"caf\u00e9", dokkuNameMsg},
		{"$(id)", dokkuNameMsg},
		// Dokku's apps:create message for a missing name.
		{"", "Please specify an app name"},
		// Berth's extra rules: length and host-name shape.
		{tooLong, "too long"},
		{strings.Repeat("a", 200), "too long"},
		{"a..b", "not a valid host name"},
		{"a.", "not a valid host name"},
		{"a-", "not a valid host name"},
		{"shop.example.com.", "not a valid host name"},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if err == nil {
			t.Errorf("ValidateName(%q) = nil, want an error", tt.name)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName(%q) = %v, which does not match ErrInvalid", tt.name, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateName(%q) = %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestValidateNameTooLongSaysLimit(t *testing.T) {
	t.Parallel()
	err := ValidateName(strings.Repeat("x", MaxNameLength+1))
	if err == nil || err.Error() != "App name is too long: 64 characters, at most 63" {
		t.Fatalf("ValidateName(64 chars) = %v, want a message naming the length 64 and the limit 63", err)
	}
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	valid := []string{"A", "a", "_", "_A1", "DATABASE_URL", "lower_case", "X9", "__"}
	for _, k := range valid {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	invalid := []string{"", "1A", "A-B", "A B", "A=B", "A.B", " A", "A ", "A\n", "\u00c9T\u00c9", "A;id", "$A", "export A"}
	for _, k := range invalid {
		err := ValidateKey(k)
		if err == nil {
			t.Errorf("ValidateKey(%q) = nil, want an error", k)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Invalid key name") {
			t.Errorf("ValidateKey(%q) = %v, want an ErrInvalid saying \"Invalid key name\"", k, err)
		}
	}
}

func TestValidateValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		want  string // "" for valid, else a substring of the message
	}{
		{"", ""},
		{"plain", ""},
		{"with space and $dollar 'q' \"dq\" \\ \n\r\t", ""},
		{"unicode \u00e9\u65e5\u672c\U0001F600 \u2028 \uFEFF", ""},
		{"\x01\x1f\x7f", ""},
		{"\xff", "not valid UTF-8"},
		{"ok\xc3", "not valid UTF-8"},       // truncated two-byte sequence
		{"\xed\xa0\x80", "not valid UTF-8"}, // encoded surrogate
		{"\x00", "NUL"},
		{"a\x00b", "NUL"},
	}
	for _, tt := range tests {
		err := ValidateValue("KEY", tt.value)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidateValue(%q) = %v, want nil", tt.value, err)
		case tt.want != "" && err == nil:
			t.Errorf("ValidateValue(%q) = nil, want an error containing %q", tt.value, tt.want)
		case tt.want != "":
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "KEY") {
				t.Errorf("ValidateValue(%q) = %q, want it to name KEY and contain %q", tt.value, err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ValidateValue(%q) = %v, which does not match ErrInvalid", tt.value, err)
			}
		}
	}
}

func TestValidateVars(t *testing.T) {
	t.Parallel()
	if err := ValidateVars(nil); err != nil {
		t.Errorf("ValidateVars(nil) = %v", err)
	}
	if err := ValidateVars(map[string]string{"A": "1", "B": "x\ny"}); err != nil {
		t.Errorf("ValidateVars(good) = %v", err)
	}
	if err := ValidateVars(map[string]string{"A": "1", "B-C": "2"}); err == nil || !strings.Contains(err.Error(), "B-C") {
		t.Errorf("ValidateVars(bad key) = %v, want an error naming B-C", err)
	}
	if err := ValidateVars(map[string]string{"A": "1", "NUL": "\x00"}); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("ValidateVars(bad value) = %v, want an error naming NUL", err)
	}
	// With several bad keys, the first in sorted order is reported, so the
	// message does not depend on map order.
	for range 20 {
		err := ValidateVars(map[string]string{"Z-1": "", "B-1": "", "M-1": ""})
		if err == nil || !strings.Contains(err.Error(), "B-1") {
			t.Fatalf("ValidateVars(three bad keys) = %v, want the first in order, B-1", err)
		}
	}
}

func TestInvalidError(t *testing.T) {
	t.Parallel()
	err := Invalidf("bad %s %d", "thing", 3)
	if err.Error() != "bad thing 3" {
		t.Errorf("Invalidf message = %q", err.Error())
	}
	if !errors.Is(err, ErrInvalid) {
		t.Error("Invalidf error does not match ErrInvalid")
	}
	wrapped := errors.Join(errors.New("context"), err)
	if !errors.Is(wrapped, ErrInvalid) {
		t.Error("wrapped InvalidError does not match ErrInvalid")
	}
	if errors.Is(errors.New("bad thing 3"), ErrInvalid) {
		t.Error("a plain error matches ErrInvalid")
	}
	var ie *InvalidError
	if !errors.As(wrapped, &ie) || ie.Msg != "bad thing 3" {
		t.Errorf("errors.As(wrapped) = %v", ie)
	}
}
