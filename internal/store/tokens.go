package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token errors.
var (
	ErrTokenNotFound = errors.New("API token not found")
	ErrTokenExists   = errors.New("API token already exists")
)

// Token is an API token: what it may touch, never its secret (only the
// secret's hash is kept).
type Token struct {
	ID         int64
	Name       string
	SecretHash string
	Admin      bool
	Apps       []string
	ReadOnly   bool
	CreatedAt  time.Time
	LastUsed   time.Time // zero: never used
}

const tokenCols = "id, name, secret_hash, admin, apps, read_only, created_at, last_used"

func scanToken(row scanner) (Token, error) {
	var t Token
	var apps string
	var created, used int64
	if err := row.Scan(&t.ID, &t.Name, &t.SecretHash, &t.Admin, &apps, &t.ReadOnly, &created, &used); err != nil {
		return t, err
	}
	if apps != "" {
		t.Apps = strings.Split(apps, ",")
	}
	t.CreatedAt = time.Unix(created, 0)
	if used != 0 {
		t.LastUsed = time.Unix(used, 0)
	}
	return t, nil
}

// AddToken records a token; a taken name gives ErrTokenExists.
func (t *Tx) AddToken(tok Token) (Token, error) {
	res, err := t.exec("INSERT INTO api_tokens (name, secret_hash, admin, apps, read_only, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		tok.Name, tok.SecretHash, tok.Admin, strings.Join(tok.Apps, ","), tok.ReadOnly, tok.CreatedAt.Unix())
	if isUniqueViolation(err) {
		return tok, ErrTokenExists
	}
	if err != nil {
		return tok, fmt.Errorf("add token %s: %w", tok.Name, err)
	}
	tok.ID, err = res.LastInsertId()
	return tok, err
}

// Tokens lists the tokens by name.
func (t *Tx) Tokens() ([]Token, error) {
	return queryRows(t, scanToken, "SELECT "+tokenCols+" FROM api_tokens ORDER BY name")
}

// TokenByName returns the token with that name.
func (t *Tx) TokenByName(name string) (Token, error) {
	tok, err := scanToken(t.tx.QueryRowContext(t.ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return tok, ErrTokenNotFound
	}
	return tok, err
}

// TokenByHash returns the token whose secret has that hash.
func (t *Tx) TokenByHash(hash string) (Token, error) {
	tok, err := scanToken(t.tx.QueryRowContext(t.ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE secret_hash = ?", hash))
	if errors.Is(err, sql.ErrNoRows) {
		return tok, ErrTokenNotFound
	}
	return tok, err
}

// TouchToken records that the token was used at when.
func (t *Tx) TouchToken(tok Token, when time.Time) error {
	_, err := t.exec("UPDATE api_tokens SET last_used = ? WHERE id = ?", when.Unix(), tok.ID)
	return err
}

// RemoveToken deletes a token.
func (t *Tx) RemoveToken(tok Token) error {
	_, err := t.exec("DELETE FROM api_tokens WHERE id = ?", tok.ID)
	return err
}

// DashboardSetting returns one dashboard setting ("" when unset).
func (t *Tx) DashboardSetting(key string) (string, error) {
	var v string
	err := t.tx.QueryRowContext(t.ctx, "SELECT value FROM dashboard_settings WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetDashboardSetting sets one dashboard setting; "" removes it.
func (t *Tx) SetDashboardSetting(key, value string) error {
	if value == "" {
		_, err := t.exec("DELETE FROM dashboard_settings WHERE key = ?", key)
		return err
	}
	_, err := t.exec("INSERT INTO dashboard_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}
