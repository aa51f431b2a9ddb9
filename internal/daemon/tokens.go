package daemon

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/httpapi"
	"github.com/berthpaas/berth/internal/store"
)

// tokenPrefix starts every API token's secret, so a leaked one is easy to
// recognise (and to search for).
const tokenPrefix = "berth_"

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// tokens are the API tokens: the tokens.* operations and the HTTP API's
// authentication (httpapi.Authenticator).
type tokens struct {
	st  *store.Store
	log *slog.Logger
	now func() time.Time
}

var _ httpapi.Authenticator = (*tokens)(nil)

func newTokens(st *store.Store, log *slog.Logger) *tokens {
	return &tokens{st: st, log: log, now: time.Now}
}

// Register adds tokens.create, tokens.list and tokens.revoke.
func (t *tokens) Register(mux *api.Mux) {
	api.Handle(mux, api.TokensCreate, t.create)
	api.Handle(mux, api.TokensList, t.list)
	api.Handle(mux, api.TokensRevoke, t.revoke)
}

// hashSecret is what is kept of a secret: its SHA-256 (the secret is 32
// random bytes, so no slow hash is needed).
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func tokenInfo(tok store.Token) api.TokenInfo {
	info := api.TokenInfo{Name: tok.Name, Admin: tok.Admin, Apps: tok.Apps, ReadOnly: tok.ReadOnly, CreatedAt: tok.CreatedAt.UTC()}
	if !tok.LastUsed.IsZero() {
		used := tok.LastUsed.UTC()
		info.LastUsed = &used
	}
	return info
}

func (t *tokens) create(ctx context.Context, req api.TokenCreate, _ api.Output) (api.TokenCreated, error) {
	if !tokenNameRE.MatchString(req.Name) {
		return api.TokenCreated{}, api.Errorf(api.CodeInvalid, "Invalid token name %q: use letters, digits, '.', '_', '@' and '-' (at most 64)", req.Name)
	}
	for _, a := range req.Apps {
		if err := app.ValidateName(a); err != nil {
			return api.TokenCreated{}, apierr.Invalid(err)
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return api.TokenCreated{}, err
	}
	secret := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	tok := store.Token{Name: req.Name, SecretHash: hashSecret(secret), Admin: len(req.Apps) == 0, Apps: req.Apps, ReadOnly: req.ReadOnly, CreatedAt: t.now()}
	err := t.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		tok, err = tx.AddToken(tok)
		return err
	})
	if errors.Is(err, store.ErrTokenExists) {
		return api.TokenCreated{}, api.Errorf(api.CodeConflict, "A token named %s already exists; revoke it first or pick another name", req.Name)
	}
	if err != nil {
		return api.TokenCreated{}, err
	}
	t.log.Info("API token created", "name", tok.Name, "admin", tok.Admin, "apps", tok.Apps, "read_only", tok.ReadOnly)
	return api.TokenCreated{TokenInfo: tokenInfo(tok), Secret: secret}, nil
}

func (t *tokens) list(ctx context.Context, _ api.Empty, _ api.Output) (api.TokenList, error) {
	res := api.TokenList{Tokens: []api.TokenInfo{}}
	err := t.st.Tx(ctx, func(tx *store.Tx) error {
		toks, err := tx.Tokens()
		for _, tok := range toks {
			res.Tokens = append(res.Tokens, tokenInfo(tok))
		}
		return err
	})
	return res, err
}

func (t *tokens) revoke(ctx context.Context, req api.TokenRef, _ api.Output) (api.TokenInfo, error) {
	var tok store.Token
	err := t.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if tok, err = tx.TokenByName(req.Name); err != nil {
			return err
		}
		return tx.RemoveToken(tok)
	})
	if errors.Is(err, store.ErrTokenNotFound) {
		return api.TokenInfo{}, api.Errorf(api.CodeNotFound, "No token named %s", req.Name)
	}
	if err != nil {
		return api.TokenInfo{}, err
	}
	t.log.Info("API token revoked", "name", tok.Name)
	return tokenInfo(tok), nil
}

// Authenticate finds the token whose secret this is, and records its use.
func (t *tokens) Authenticate(ctx context.Context, secret string) (httpapi.Principal, bool, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return httpapi.Principal{}, false, nil
	}
	var tok store.Token
	err := t.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if tok, err = tx.TokenByHash(hashSecret(secret)); err != nil {
			return err
		}
		return tx.TouchToken(tok, t.now())
	})
	if errors.Is(err, store.ErrTokenNotFound) {
		return httpapi.Principal{}, false, nil
	}
	if err != nil {
		return httpapi.Principal{}, false, err
	}
	return httpapi.Principal{Name: tok.Name, Grant: api.Grant{Admin: tok.Admin, Apps: tok.Apps, ReadOnly: tok.ReadOnly}}, true, nil
}
