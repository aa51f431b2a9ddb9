package preview

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
)

// hashLen is the length of the hash that ends a truncated slug.
const hashLen = 6

// maxServiceName is the services' name limit (services' serviceNameRE).
const maxServiceName = 48

// Slug is branch as an app-name-safe, DNS-label-safe word: lower case,
// runs of anything but a-z and 0-9 as one hyphen, no hyphen at either end.
// A branch with nothing left ("___") is "branch-HASH".
func Slug(branch string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(branch) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "branch-" + shortHash(branch)
	}
	return b.String()
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:hashLen]
}

// fit joins prefix and branch's slug with a hyphen within limit bytes: a
// slug too long is cut and ends with a short hash of the branch, so two
// long branches that share their start still get two names. It returns
// the slug as used (the preview's subdomain).
func fit(prefix, branch string, limit int) (name, slug string, err error) {
	slug = Slug(branch)
	room := limit - len(prefix) - 1
	if len(slug) <= room {
		return prefix + "-" + slug, slug, nil
	}
	if room < hashLen+2 {
		return "", "", fmt.Errorf("%s is too long a name to add a branch to (at most %d characters)", prefix, limit-hashLen-3)
	}
	cut := strings.TrimRight(slug[:room-hashLen-1], "-")
	slug = cut + "-" + shortHash(branch)
	return prefix + "-" + slug, slug, nil
}

// AppName is the preview app of parent's branch (APP-BRANCH), at most
// app.MaxNameLength characters; slug is the branch's part of it.
func AppName(parent, branch string) (name, slug string, err error) {
	name, slug, err = fit(parent, branch, app.MaxNameLength)
	if err != nil {
		return "", "", app.Invalidf("App %v", err)
	}
	return name, slug, nil
}

// ServiceName is the preview's copy of service (SERVICE-SLUG), within the
// services' 48 characters.
func ServiceName(service, slug string) (string, error) {
	name, _, err := fit(service, slug, maxServiceName)
	if err != nil {
		return "", app.Invalidf("Service %v", err)
	}
	return name, nil
}

// Domain is the preview's domain: SLUG.PARENT.GLOBAL when a global domain
// is set (the wildcard DNS Dokku's global vhost already needs), else
// SLUG.FIRST-DOMAIN-OF-PARENT; "" when the parent has neither.
func Domain(slug, parent string, global, parentDomains []string) string {
	if len(global) > 0 && global[0] != "" {
		return slug + "." + parent + "." + global[0]
	}
	if len(parentDomains) > 0 && parentDomains[0] != "" {
		return slug + "." + parentDomains[0]
	}
	return ""
}

// Vars the preview sets on itself.
const (
	ParentVar = "BERTH_PREVIEW_PARENT"
	BranchVar = "BERTH_PREVIEW_BRANCH"
)

// MergeConfig is a preview's config: the parent's vars without those of
// its service links (linkVars, and any var holding the same value, such as
// DOKKU_POSTGRES_AQUA_URL: the preview links its own copies), with the
// preview's own vars and then environments.review.env over them (a value,
// or a fresh secret for generator "secret"; an entry with neither keeps
// the parent's value).
func MergeConfig(parentVars map[string]string, linkVars []string, review map[string]appfile.EnvSpec, parent, branch string) map[string]string {
	out := maps.Clone(parentVars)
	if out == nil {
		out = map[string]string{}
	}
	for _, k := range linkVars {
		v, ok := parentVars[k]
		delete(out, k)
		if !ok || v == "" {
			continue
		}
		for k2, v2 := range parentVars {
			if v2 == v {
				delete(out, k2)
			}
		}
	}
	out[ParentVar], out[BranchVar] = parent, branch
	for k, spec := range review {
		switch {
		case spec.Value != nil:
			out[k] = *spec.Value
		case spec.Generator == appfile.GeneratorSecret:
			out[k] = secret()
		}
	}
	return out
}

func secret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ParseExpire reads previews:set's expire: a whole number of days (7d),
// hours (12h) or minutes (30m), or any Go duration ("1h30m"); "" is never
// (0).
func ParseExpire(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d > 0 && d < 100000 {
			return time.Duration(d) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d >= time.Minute {
		return d, nil
	}
	return 0, app.Invalidf("Invalid expire %q: give a duration such as 7d, 12h or 30m (at least a minute), or nothing for never", v)
}

// FormatExpire writes a duration as ParseExpire reads it ("" for 0).
func FormatExpire(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

// Expires is when a preview last pushed at pushed expires (the zero time
// when expire is 0: never).
func Expires(pushed time.Time, expire time.Duration) time.Time {
	if expire <= 0 {
		return time.Time{}
	}
	return pushed.Add(expire)
}

// Expired reports whether a preview last pushed at pushed is past its
// expiry at now.
func Expired(pushed time.Time, expire time.Duration, now time.Time) bool {
	e := Expires(pushed, expire)
	return !e.IsZero() && !now.Before(e)
}
