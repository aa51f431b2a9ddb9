package routing

import (
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Wildcards and the boundary between apps. The proxy looks a host name up
// exactly first, then as a one-label wildcard (`*.example.com` covers
// `shop.example.com`, not `example.com` nor `a.shop.example.com`), as
// Dokku's nginx does. So an exact name always stays with the app that has
// it; what could cross into another app is a wildcard, which would take
// the covered names that app has not claimed yet (its future subdomains,
// or a name it drops for a moment). Claiming a wildcard, as a domain or as
// a redirect source, is therefore refused when any name it covers is a
// domain or redirect source of another app. A plain name under another
// app's wildcard is allowed: the exact name wins, and the wildcard's owner
// keeps the rest.

// wildcardCovers reports whether wildcard w (`*.example.com`) covers h, a
// host name one label under it. (The same wildcard is refused elsewhere: a
// domain another app has, or a source redirected already.)
func wildcardCovers(w, h string) bool {
	label, ok := strings.CutSuffix(h, w[1:]) // w[1:] is ".example.com"
	return ok && label != "" && !strings.Contains(label, ".") && label != "*"
}

// checkWildcards refuses (CodeConflict) the wildcards among names when one
// covers a domain or redirect source of an app other than a. Nothing is
// written.
func checkWildcards(tx *store.Tx, a store.App, names []string) error {
	var ws []string
	for _, n := range names {
		if app.IsWildcardDomain(n) {
			ws = append(ws, n)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	domains, err := tx.AllDomains()
	if err != nil {
		return err
	}
	apps, err := tx.Apps()
	if err != nil {
		return err
	}
	for _, b := range apps {
		if b.ID == a.ID {
			continue
		}
		used := domains[b.Name]
		rs, err := tx.Redirects(b)
		if err != nil {
			return err
		}
		for _, r := range rs {
			used = append(used, r.Src)
		}
		for _, w := range ws {
			for _, h := range used {
				if wildcardCovers(w, h) {
					return api.Errorf(api.CodeConflict, "%s covers %s, which app %s uses", w, h, b.Name)
				}
			}
		}
	}
	return nil
}
