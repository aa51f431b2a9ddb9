package app

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// safePathPart is what every name that ends up in a path of the data dir
// (an app's repository, its kept files, a service's data) must be: one
// plain component that cannot climb out or hide control characters.
func safePathPart(t *testing.T, what, name string) {
	t.Helper()
	if name == "" || name == "." || strings.Contains(name, "..") || strings.ContainsAny(name, `/\`) {
		t.Fatalf("%s %q accepted: not one plain path component", what, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			t.Fatalf("%s %q accepted with a control or non-ASCII character %U", what, name, r)
		}
	}
	const data = "/var/lib/berth/apps"
	if p := filepath.Join(data, name); filepath.Dir(p) != data || filepath.Base(p) != name {
		t.Fatalf("%s %q leaves its directory: %s", what, name, p)
	}
}

// FuzzValidateName: an accepted app name is a lower-case DNS-like label
// sequence, one path component, and a valid host name under any domain.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{
		"shop", "a", "www.shop.test", "a-b.c", "..", "../etc", "a/b", "a..b", "a.", "a-", "-a", ".a", "A", "a\x00",
		"a\nb", "ａpp", "shop\u200b", "\u0430pp", strings.Repeat("a", 48), strings.Repeat("a", 49), "a b", "$(id)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("ValidateName(%q) = %v: not one line of ErrInvalid", name, err)
			}
			return
		}
		safePathPart(t, "app name", name)
		if len(name) > MaxNameLength || name != strings.ToLower(name) {
			t.Fatalf("app name %q accepted: too long or not lower-case", name)
		}
		if name[0] == '.' || name[0] == '-' || strings.HasSuffix(name, ".") || strings.HasSuffix(name, "-") {
			t.Fatalf("app name %q accepted with a leading or trailing separator", name)
		}
		// The default domain APP.example.com must be a valid domain.
		if err := ValidateDomain(name + ".example.com"); err != nil {
			t.Fatalf("app name %q makes an invalid domain: %v", name, err)
		}
	})
}

// FuzzValidateDomain: an accepted domain is lower-case ASCII labels of at
// most 63 characters (a wildcard only as the whole first label), at most
// 253 characters, and validating its normalized form agrees.
func FuzzValidateDomain(f *testing.F) {
	for _, s := range []string{
		"shop.test", "_", "*.shop.test", "*", "a.*.b", "*a.b", "a..b", ".a", "a.", "A.B", "xn--p1ai.test", "a_b.test",
		"a/b", "a\x00b", "shop.test\n", "ｓhop.test", "\u212a.test", "1.2.3.4", "[::1]", "a:80",
		strings.Repeat("a", 63) + ".b", strings.Repeat("a", 64) + ".b", strings.Repeat("a.", 127) + "a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateDomain(name)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || !strings.HasSuffix(err.Error(), " is invalid") || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("ValidateDomain(%q) = %v", name, err)
			}
			return
		}
		d := NormalizeDomain(name)
		if err := ValidateDomain(d); err != nil {
			t.Fatalf("%q accepted but its normal form %q is not: %v", name, d, err)
		}
		if d == "_" {
			return
		}
		if len(d) > MaxDomainLength {
			t.Fatalf("domain %q accepted: %d characters", d, len(d))
		}
		for i, l := range strings.Split(d, ".") {
			if l == "" || len(l) > MaxLabelLength {
				t.Fatalf("domain %q accepted with label %q", d, l)
			}
			if strings.Contains(l, "*") && (i != 0 || l != "*") {
				t.Fatalf("domain %q accepted with a wildcard inside label %q", d, l)
			}
			for _, r := range l {
				if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '*' || r == '_') {
					t.Fatalf("domain %q accepted with %q", d, r)
				}
			}
		}
	})
}

// FuzzShellQuoteRoundTrip: the command line the laptop client sends over
// ssh (each word ShellQuoted, joined by blanks) is split back by the
// server into exactly the words sent, whatever they contain.
func FuzzShellQuoteRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a b", "it's", `"$(id)"`, "`id`; rm -rf /", "a\nb", `\`, "'", "''\\''"} {
		f.Add("config:set", s, "K="+s)
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		words := []string{a, b, c}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = ShellQuote(w)
		}
		line := strings.Join(quoted, " ")
		got, err := SplitWords(line)
		if err != nil || !slices.Equal(got, words) {
			t.Fatalf("SplitWords(%q) = %q, %v; want %q", line, got, err, words)
		}
	})
}
