package app

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidateDomainValid(t *testing.T) {
	t.Parallel()
	label63 := strings.Repeat("a", MaxLabelLength)
	// 4 labels of 63 and their 3 dots: 255 characters; drop 2 from the
	// last label for 253.
	name253 := strings.Repeat(label63+".", 3) + label63[:61]
	for _, d := range []string{
		"example.com",
		"shop.example.com",
		"localhost",
		"_",
		"*.example.com",
		"xn--bcher-kva.example",
		"a-b.c-d.e",
		"10.0.0.1",
		"Shop.Example.COM", // Dokku lower-cases before checking
		label63 + ".com",
		name253,
	} {
		if err := ValidateDomain(d); err != nil {
			t.Errorf("ValidateDomain(%q) = %v, want nil", d, err)
		}
	}
}

func TestValidateDomainInvalid(t *testing.T) {
	t.Parallel()
	label64 := strings.Repeat("a", MaxLabelLength+1)
	name254 := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("a", 62)
	for _, d := range []string{
		"",
		"http://x",
		"a b",
		" example.com",
		"example.com ",
		"UPPER..case",
		".example.com",
		"example.com.",
		"example_com",
		"*.*.x",
		"a.*.example.com",
		"a*.example.com",
		"*",
		"*example.com",
		"example.com/path",
		"example.com:80",
		"exämple.com",
		"__",
		label64 + ".com",
		name254,
	} {
		err := ValidateDomain(d)
		if err == nil {
			t.Errorf("ValidateDomain(%q) = nil, want an error", d)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateDomain(%q) = %v, not an InvalidError", d, err)
		}
		if want := d + " is invalid"; err.Error() != want {
			t.Errorf("ValidateDomain(%q) = %q, want %q", d, err, want)
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	t.Parallel()
	if got := NormalizeDomain("Shop.Example.COM"); got != "shop.example.com" {
		t.Errorf("NormalizeDomain = %q", got)
	}
}

func TestDefaultDomain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		app     string
		globals []string
		want    string
	}{
		{"shop", []string{"example.com"}, "shop.example.com"},
		{"shop", []string{"example.com", "example.org"}, "shop.example.com"},
		{"shop", nil, ""},
		{"shop", []string{}, ""},
		{"www.shop.test", nil, "www.shop.test"},
		{"www.shop.test", []string{"example.com"}, "www.shop.test"},
		// Globals that cannot carry a subdomain are passed over.
		{"shop", []string{"10.0.0.1", "example.com"}, "shop.example.com"},
		{"shop", []string{"::1"}, ""},
		{"shop", []string{"_", "*.example.com", "example.org"}, "shop.example.org"},
		{"shop", []string{"Example.COM"}, "shop.example.com"},
		// Too long for a host name.
		{"shop", []string{strings.Repeat(strings.Repeat("a", 60)+".", 4) + "abcdef"}, ""},
	}
	for _, tt := range tests {
		if got := DefaultDomain(tt.app, tt.globals); got != tt.want {
			t.Errorf("DefaultDomain(%q, %q) = %q, want %q", tt.app, tt.globals, got, tt.want)
		}
	}
}

func TestRenamedDomain(t *testing.T) {
	t.Parallel()
	globals := []string{"example.com", "example.org"}
	tests := []struct {
		d, from, to string
		want        string
		ok          bool
	}{
		{"shop.example.com", "shop", "store", "store.example.com", true},
		{"shop.example.org", "shop", "store", "store.example.org", true},
		{"www.shop.com", "shop", "store", "", false},
		{"shop.other.com", "shop", "store", "", false},
		{"myshop.example.com", "shop", "store", "", false},
		{"www.shop.test", "www.shop.test", "www.store.test", "www.store.test", true},
		{"www.shop.test", "www.shop.test", "store", "store.example.com", true},
	}
	for _, tt := range tests {
		got, ok := RenamedDomain(tt.d, tt.from, tt.to, globals)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RenamedDomain(%q, %q, %q) = %q, %v; want %q, %v", tt.d, tt.from, tt.to, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := RenamedDomain("www.shop.test", "www.shop.test", "store", nil); ok {
		t.Errorf("a dotted name renamed to an undotted one without globals: %q, want no change", got)
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scheme, host string
		port         int
		want         string
	}{
		{"http", "shop.example.com", 80, "http://shop.example.com"},
		{"http", "shop.example.com", 0, "http://shop.example.com"},
		{"http", "shop.example.com", 8080, "http://shop.example.com:8080"},
		{"https", "shop.example.com", 443, "https://shop.example.com"},
		{"https", "shop.example.com", 80, "https://shop.example.com:80"},
		{"http", "::1", 8080, "http://[::1]:8080"},
	}
	for _, tt := range tests {
		if got := URL(tt.scheme, tt.host, tt.port); got != tt.want {
			t.Errorf("URL(%q, %q, %d) = %q, want %q", tt.scheme, tt.host, tt.port, got, tt.want)
		}
	}
}

func TestListenPort(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]int{
		":80":            80,
		"127.0.0.1:8080": 8080,
		"[::1]:8443":     8443,
		"0.0.0.0:80":     80,
		"8080":           8080,
		"":               0,
		"localhost":      0,
		":http":          0,
		":99999":         0,
	} {
		if got := ListenPort(addr); got != want {
			t.Errorf("ListenPort(%q) = %d, want %d", addr, got, want)
		}
	}
}

func TestParsePortMap(t *testing.T) {
	t.Parallel()
	good := map[string]PortMap{
		"http:80:5000":   {"http", 80, 5000},
		"https:443:5000": {"https", 443, 5000},
		"http:1:65535":   {"http", 1, 65535},
		"http:8080:3000": {"http", 8080, 3000},
	}
	for s, want := range good {
		got, err := ParsePortMap(s)
		if err != nil || got != want {
			t.Errorf("ParsePortMap(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if got.String() != s {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), s)
		}
	}
	for _, s := range []string{
		"", "http", "http:80", "80", "tcp:80:5000", "HTTP:80:5000", "http:0:5000", "http:80:0",
		"http:65536:5000", "http:80:70000", "http:-1:5000", "http:+80:5000", "http:80:5000:1",
		"http::5000", "http:eighty:5000", "http: 80:5000",
	} {
		if _, err := ParsePortMap(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePortMap(%q) = %v, want an InvalidError", s, err)
		}
	}
}

func TestParsePortSelector(t *testing.T) {
	t.Parallel()
	m := PortMap{"http", 80, 5000}
	tests := []struct {
		s     string
		match bool
	}{
		{"80", true},
		{"http:80", true},
		{"https:80", false},
		{"http:80:5000", true},
		{"http:80:3000", false},
		{"8080", false},
	}
	for _, tt := range tests {
		sel, err := ParsePortSelector(tt.s)
		if err != nil {
			t.Errorf("ParsePortSelector(%q): %v", tt.s, err)
			continue
		}
		if got := sel.Matches(m); got != tt.match {
			t.Errorf("selector %q matches %s = %v, want %v", tt.s, m, got, tt.match)
		}
	}
	for _, s := range []string{"", "x", "tcp:80", "http:0", "http:80:5000:1", "0"} {
		if _, err := ParsePortSelector(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePortSelector(%q) = %v, want an InvalidError", s, err)
		}
	}
}

func TestNormalizePortMaps(t *testing.T) {
	t.Parallel()
	maps, err := ParsePortMaps("https:443:5000 http:80:5000 http:8080:5000 http:80:5000")
	if err != nil {
		t.Fatal(err)
	}
	got, err := NormalizePortMaps(maps)
	if err != nil {
		t.Fatal(err)
	}
	if s := FormatPortMaps(got); s != "http:8080:5000 http:80:5000 https:443:5000" {
		t.Errorf("normalized = %q", s)
	}
	again, err := ParsePortMaps(FormatPortMaps(got))
	if err != nil || FormatPortMaps(again) != FormatPortMaps(got) {
		t.Errorf("round trip: %v, %v", again, err)
	}
	_, err = NormalizePortMaps([]PortMap{{"http", 80, 5000}, {"http", 80, 3000}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "http:80") {
		t.Errorf("two container ports for http:80: %v", err)
	}
	if _, err := NormalizePortMaps([]PortMap{{"http", 80, 5000}, {"https", 80, 3000}}); err != nil {
		t.Errorf("http and https on one host port: %v", err)
	}
	if maps, err := ParsePortMaps(""); err != nil || len(maps) != 0 {
		t.Errorf("ParsePortMaps(\"\") = %v, %v", maps, err)
	}
}

func TestDefaultDomains(t *testing.T) {
	for _, tt := range []struct {
		app     string
		globals []string
		want    []string
	}{
		{"shop", []string{"a.test", "10.0.0.1", "_", "*.w.test", "b.test", "a.test"}, []string{"shop.a.test", "shop.b.test"}},
		{"shop", nil, nil},
		{"www.shop.test", []string{"a.test", "b.test"}, []string{"www.shop.test"}},
		{"www.shop.test", nil, []string{"www.shop.test"}},
	} {
		if got := DefaultDomains(tt.app, tt.globals); !slices.Equal(got, tt.want) {
			t.Errorf("DefaultDomains(%q, %q) = %q, want %q", tt.app, tt.globals, got, tt.want)
		}
	}
	for in, want := range map[string][]string{".shop.test": {"shop.test", "*.shop.test"}, "shop.test": {"shop.test"}, ".": {"."}, "..x": {"..x"}} {
		if got := ExpandDomain(in); !slices.Equal(got, want) {
			t.Errorf("ExpandDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
