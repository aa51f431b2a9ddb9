package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// acmePrefix is the path of ACME HTTP-01 challenges (RFC 8555, 8.3).
const acmePrefix = "/.well-known/acme-challenge/"

// ChallengeTTL is how long a challenge is answered if the daemon never
// clears it.
const ChallengeTTL = time.Hour

// challenges holds the ACME HTTP-01 challenges the daemon set: token to key
// authorization. They live in memory only: a challenge outlives neither the
// order it belongs to nor, usefully, a restart of the proxy.
type challenges struct {
	mu sync.Mutex
	m  map[string]challenge
}

type challenge struct {
	keyAuth string
	expires time.Time
}

// validToken accepts an ACME token: base64url characters (RFC 8555 says at
// least 128 bits of entropy; this only bounds the length).
func validToken(token string) bool {
	if len(token) == 0 || len(token) > 256 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkChallenge validates a challenge the daemon sets: the key
// authorization is the token, a dot and the account key's thumbprint.
func checkChallenge(token, keyAuth string) error {
	if !validToken(token) {
		return errInvalid("invalid ACME challenge token %q", token)
	}
	thumb, ok := strings.CutPrefix(keyAuth, token+".")
	if !ok || !validToken(thumb) {
		return errInvalid("invalid key authorization for ACME challenge token %s (want TOKEN.THUMBPRINT)", token)
	}
	return nil
}

// set adds or renews a challenge until now+ChallengeTTL, and forgets the
// expired ones.
func (c *challenges) set(token, keyAuth string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]challenge)
	}
	for t, ch := range c.m {
		if !now.Before(ch.expires) {
			delete(c.m, t)
		}
	}
	c.m[token] = challenge{keyAuth: keyAuth, expires: now.Add(ChallengeTTL)}
}

func (c *challenges) clear(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, token)
}

// get returns the key authorization of token, if set and not expired.
func (c *challenges) get(token string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.m[token]
	if !ok {
		return "", false
	}
	if !now.Before(ch.expires) {
		delete(c.m, token)
		return "", false
	}
	return ch.keyAuth, true
}

// answerChallenge answers a GET or HEAD of /.well-known/acme-challenge/TOKEN
// with TOKEN's key authorization if the daemon set it, whatever the host.
// It returns false, having written nothing, for any other request.
func (ex *exchange) answerChallenge(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	token, ok := strings.CutPrefix(r.URL.Path, acmePrefix)
	if !ok || !validToken(token) {
		return false
	}
	keyAuth, ok := ex.s.acme.get(token, time.Now())
	if !ok {
		return false
	}
	h := ex.w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(keyAuth)))
	h.Set("Cache-Control", "no-store")
	h["X-Request-Id"] = []string{ex.id}
	ex.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		ex.Write([]byte(keyAuth))
	}
	return true
}
