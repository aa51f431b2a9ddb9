package services

import (
	"regexp"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/store"
)

func TestParseMajor(t *testing.T) {
	for out, want := range map[string]int{
		"postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n": 15,
		"postgres (PostgreSQL) 17.2\n":                           17,
		"Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc":   7,
		"Redis server v=8.0.2 sha=00000000:1 bits=64":            8,
	} {
		if got, err := parseMajor(out); err != nil || got != want {
			t.Errorf("parseMajor(%q) = %d, %v; want %d", out, got, err, want)
		}
	}
	if _, err := parseMajor("exec: postgres: not found"); err == nil {
		t.Error("parseMajor accepted output without a version")
	}
}

func TestUpgradeImage(t *testing.T) {
	for _, c := range []struct{ cur, img, ver, want string }{
		{"postgres:15", "", "17", "postgres:17"},
		{"postgres:15", "berth/postgres", "", "berth/postgres:15"},
		{"127.0.0.1:5000/pg:15", "", "16", "127.0.0.1:5000/pg:16"},
		{"127.0.0.1:5000/pg", "", "16", "127.0.0.1:5000/pg:16"},
	} {
		if got := upgradeImage(c.cur, c.img, c.ver); got != c.want {
			t.Errorf("upgradeImage(%q, %q, %q) = %q, want %q", c.cur, c.img, c.ver, got, c.want)
		}
	}
}

func TestParseExpose(t *testing.T) {
	for arg, want := range map[string][2]any{
		"":               {"127.0.0.1", 0},
		"5433":           {"127.0.0.1", 5433},
		"0.0.0.0":        {"0.0.0.0", 0},
		"10.0.0.5:6000":  {"10.0.0.5", 6000},
		"[::1]:7000":     {"::1", 7000},
		"127.0.0.1:6379": {"127.0.0.1", 6379},
	} {
		host, port, err := parseExpose(arg)
		if err != nil || host != want[0] || port != want[1] {
			t.Errorf("parseExpose(%q) = %q, %d, %v; want %v", arg, host, port, err, want)
		}
	}
	for _, bad := range []string{"70000", "localhost:5432", "abc", "1.2.3.4:0"} {
		if _, _, err := parseExpose(bad); err == nil {
			t.Errorf("parseExpose(%q) accepted", bad)
		}
	}
}

func TestParseServiceSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		bare int64
		want int64
	}{{"512", 1 << 20, 512 << 20}, {"1g", 1 << 20, 1 << 30}, {"128m", 1, 128 << 20}, {"65536", 1, 65536}, {"64k", 1, 64 << 10}, {"", 1, 0}} {
		if got, err := parseServiceSize(c.in, c.bare); err != nil || got != c.want {
			t.Errorf("parseServiceSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"lots", "-5", "0", "1t"} {
		if _, err := parseServiceSize(bad, 1); err == nil {
			t.Errorf("parseServiceSize(%q) accepted", bad)
		}
	}
}

func TestParseCustomEnv(t *testing.T) {
	got, err := parseCustomEnv("A=b; C=d=e ;;TZ=UTC")
	if err != nil || len(got) != 3 || got[1] != "C=d=e" {
		t.Errorf("parseCustomEnv = %q, %v", got, err)
	}
	for _, bad := range []string{"NOEQUALS", "1A=b", "A B=c"} {
		if _, err := parseCustomEnv(bad); err == nil {
			t.Errorf("parseCustomEnv(%q) accepted", bad)
		}
	}
}

// TestLinkURLs: Dokku's formats, the database name rule and the query.
func TestLinkURLs(t *testing.T) {
	pg := store.Service{Kind: "postgres", Name: "shop-db.v2", Password: randomHex(16)}
	u := linkURL(serviceKinds["postgres"], store.Link{Service: pg, Query: "sslmode=disable"}, nil)
	if !regexp.MustCompile(`^postgres://postgres:[0-9a-f]{32}@dokku-postgres-shop-db\.v2:5432/shop_db_v2\?sslmode=disable$`).MatchString(u) {
		t.Errorf("postgres URL %q", u)
	}
	// Dokku's host name has dashes for the name's underscores; the
	// database keeps the name (dokku-postgres's service_info.bats).
	us := store.Service{Kind: "postgres", Name: "test_with_underscores", Password: "pw"}
	if u := linkURL(serviceKinds["postgres"], store.Link{Service: us}, nil); u != "postgres://postgres:pw@dokku-postgres-test-with-underscores:5432/test_with_underscores" {
		t.Errorf("underscores: postgres URL %q", u)
	}
	// The app's POSTGRES_DATABASE_SCHEME replaces the scheme (dokku-postgres).
	if u := linkURL(serviceKinds["postgres"], store.Link{Service: us, Query: "pool=5"}, map[string]string{"POSTGRES_DATABASE_SCHEME": "postgres2"}); u != "postgres2://postgres:pw@dokku-postgres-test-with-underscores:5432/test_with_underscores?pool=5" {
		t.Errorf("scheme: postgres URL %q", u)
	}
	// Links made when the host kept the underscores still resolve.
	if a := serviceAliases("postgres", "test_with_underscores"); strings.Join(a, " ") != "dokku-postgres-test-with-underscores dokku-postgres-test_with_underscores" {
		t.Errorf("aliases = %q", a)
	}
	if a := serviceAliases("redis", "cache"); strings.Join(a, " ") != "dokku-redis-cache" {
		t.Errorf("aliases = %q", a)
	}
	rd := store.Service{Kind: "redis", Name: "cache", Password: randomHex(32)}
	if u := linkURL(serviceKinds["redis"], store.Link{Service: rd}, nil); !regexp.MustCompile(`^redis://:[0-9a-f]{64}@dokku-redis-cache:6379$`).MatchString(u) {
		t.Errorf("redis URL %q", u)
	}
	vars := map[string]string{"DATABASE_URL": "x", "DOKKU_POSTGRES_AQUA_URL": "y"}
	if v := freeColorVar(serviceKinds["postgres"], vars); v != "DOKKU_POSTGRES_BLACK_URL" {
		t.Errorf("next color = %q", v)
	}
	for _, c := range colors {
		vars["DOKKU_POSTGRES_"+c+"_URL"] = "z"
	}
	if v := freeColorVar(serviceKinds["postgres"], vars); v != "" {
		t.Errorf("no color left, got %q", v)
	}
}

func TestServiceNames(t *testing.T) {
	for _, ok := range []string{"db", "Shop_DB-2", "a"} {
		if err := checkServiceName("postgres", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a b", "../x", "Bad;Name", string(make([]byte, 49))} {
		if err := checkServiceName("postgres", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
