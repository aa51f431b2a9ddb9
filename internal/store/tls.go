package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNoCert is returned when an app has no certificate.
var ErrNoCert = errors.New("no certificate")

// Cert is an app's TLS certificate.
type Cert struct {
	Source    string // custom, self-signed, letsencrypt
	CertPEM   string
	KeyPEM    string
	Domains   []string
	NotBefore time.Time
	NotAfter  time.Time
	UpdatedAt time.Time
	LastError string
	LastTryAt time.Time
}

// Cert returns the app's certificate, or ErrNoCert.
func (t *Tx) Cert(a App) (Cert, error) {
	var c Cert
	var domains string
	var nb, na, up, tried int64
	err := t.tx.QueryRowContext(t.ctx, "SELECT source, cert_pem, key_pem, domains, not_before, not_after, updated_at, last_error, last_try_at FROM certs WHERE app_id = ?", a.ID).
		Scan(&c.Source, &c.CertPEM, &c.KeyPEM, &domains, &nb, &na, &up, &c.LastError, &tried)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNoCert
	}
	if err != nil {
		return c, fmt.Errorf("read certificate of %s: %w", a.Name, err)
	}
	c.Domains = strings.Fields(domains)
	c.NotBefore, c.NotAfter, c.UpdatedAt = time.Unix(nb, 0), time.Unix(na, 0), time.Unix(up, 0)
	if tried > 0 {
		c.LastTryAt = time.Unix(tried, 0)
	}
	return c, nil
}

// SetCert stores the app's certificate, replacing any.
func (t *Tx) SetCert(a App, c Cert) error {
	_, err := t.exec(`INSERT INTO certs (app_id, source, cert_pem, key_pem, domains, not_before, not_after, updated_at, last_error, last_try_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app_id) DO UPDATE SET source = excluded.source, cert_pem = excluded.cert_pem, key_pem = excluded.key_pem,
		domains = excluded.domains, not_before = excluded.not_before, not_after = excluded.not_after, updated_at = excluded.updated_at,
		last_error = excluded.last_error, last_try_at = excluded.last_try_at`,
		a.ID, c.Source, c.CertPEM, c.KeyPEM, strings.Join(c.Domains, " "), c.NotBefore.Unix(), c.NotAfter.Unix(), c.UpdatedAt.Unix(), c.LastError, unixOrZero(c.LastTryAt))
	if err != nil {
		return fmt.Errorf("store certificate of %s: %w", a.Name, err)
	}
	return nil
}

// SetCertError records a failed renewal without touching the certificate.
func (t *Tx) SetCertError(a App, msg string, at time.Time) error {
	_, err := t.exec("UPDATE certs SET last_error = ?, last_try_at = ? WHERE app_id = ?", msg, at.Unix(), a.ID)
	return err
}

// RemoveCert deletes the app's certificate.
func (t *Tx) RemoveCert(a App) error {
	res, err := t.exec("DELETE FROM certs WHERE app_id = ?", a.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNoCert
	}
	return nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Redirect sends requests for one host to another.
type Redirect struct {
	Src, Dest string
	Code      int
}

// ErrRedirectTaken is returned when a source host is already redirected.
var ErrRedirectTaken = errors.New("source already redirected")

// Redirects returns the app's redirects by source.
func (t *Tx) Redirects(a App) ([]Redirect, error) {
	return queryRows(t, func(row scanner) (Redirect, error) {
		var r Redirect
		return r, row.Scan(&r.Src, &r.Dest, &r.Code)
	}, "SELECT src, dest, code FROM redirects WHERE app_id = ? ORDER BY src", a.ID)
}

// AddRedirect adds a redirect; a source redirected anywhere gives
// ErrRedirectTaken.
func (t *Tx) AddRedirect(a App, r Redirect) error {
	_, err := t.exec("INSERT INTO redirects (app_id, src, dest, code) VALUES (?, ?, ?, ?)", a.ID, r.Src, r.Dest, r.Code)
	if isUniqueViolation(err) {
		return ErrRedirectTaken
	}
	return err
}

// RemoveRedirect deletes the app's redirect from src and reports whether
// there was one.
func (t *Tx) RemoveRedirect(a App, src string) (bool, error) {
	res, err := t.exec("DELETE FROM redirects WHERE app_id = ? AND src = ?", a.ID, src)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
