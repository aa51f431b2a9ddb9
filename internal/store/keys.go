package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Key errors.
var (
	ErrKeyNotFound = errors.New("ssh key not found")
	ErrKeyExists   = errors.New("ssh key already exists")
)

// Key is a registered ssh public key and what it may touch.
type Key struct {
	ID          int64
	Name        string
	Fingerprint string
	PublicKey   string
	// Admin keys may run every command on every app; others only the
	// app-scoped commands of Apps.
	Admin     bool
	Apps      []string
	CreatedAt time.Time
}

// MayTouch reports whether the key may act on app.
func (k Key) MayTouch(app string) bool {
	if k.Admin {
		return true
	}
	for _, a := range k.Apps {
		if a == app {
			return true
		}
	}
	return false
}

const keyCols = "id, name, fingerprint, public_key, admin, apps, created_at"

func scanKey(row scanner) (Key, error) {
	var k Key
	var apps string
	var created int64
	if err := row.Scan(&k.ID, &k.Name, &k.Fingerprint, &k.PublicKey, &k.Admin, &apps, &created); err != nil {
		return k, err
	}
	if apps != "" {
		k.Apps = strings.Split(apps, ",")
	}
	k.CreatedAt = time.Unix(created, 0)
	return k, nil
}

// AddKey registers a key; a taken name or fingerprint gives ErrKeyExists.
func (t *Tx) AddKey(k Key) (Key, error) {
	res, err := t.exec("INSERT INTO ssh_keys (name, fingerprint, public_key, admin, apps, created_at) VALUES (?, ?, ?, ?, ?, ?)",
		k.Name, k.Fingerprint, k.PublicKey, k.Admin, strings.Join(k.Apps, ","), k.CreatedAt.Unix())
	if isUniqueViolation(err) {
		return k, ErrKeyExists
	}
	if err != nil {
		return k, fmt.Errorf("add key %s: %w", k.Name, err)
	}
	k.ID, err = res.LastInsertId()
	return k, err
}

// Keys lists the keys by name.
func (t *Tx) Keys() ([]Key, error) {
	return queryRows(t, scanKey, "SELECT "+keyCols+" FROM ssh_keys ORDER BY name")
}

// KeyByName returns the key with that name.
func (t *Tx) KeyByName(name string) (Key, error) {
	k, err := scanKey(t.tx.QueryRowContext(t.ctx, "SELECT "+keyCols+" FROM ssh_keys WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return k, ErrKeyNotFound
	}
	return k, err
}

// KeyByFingerprint returns the key with that fingerprint.
func (t *Tx) KeyByFingerprint(fp string) (Key, error) {
	k, err := scanKey(t.tx.QueryRowContext(t.ctx, "SELECT "+keyCols+" FROM ssh_keys WHERE fingerprint = ?", fp))
	if errors.Is(err, sql.ErrNoRows) {
		return k, ErrKeyNotFound
	}
	return k, err
}

// RemoveKey deletes a key.
func (t *Tx) RemoveKey(k Key) error {
	_, err := t.exec("DELETE FROM ssh_keys WHERE id = ?", k.ID)
	return err
}

// SetKeyAccess changes what a key may touch.
func (t *Tx) SetKeyAccess(k Key, admin bool, apps []string) error {
	_, err := t.exec("UPDATE ssh_keys SET admin = ?, apps = ? WHERE id = ?", admin, strings.Join(apps, ","), k.ID)
	return err
}

// RenameAppInKeys follows an app rename in every key's list.
func (t *Tx) RenameAppInKeys(from, to string) error {
	keys, err := t.Keys()
	if err != nil {
		return err
	}
	for _, k := range keys {
		changed := false
		for i, a := range k.Apps {
			if a == from {
				k.Apps[i], changed = to, true
			}
		}
		if changed {
			if err := t.SetKeyAccess(k, k.Admin, k.Apps); err != nil {
				return err
			}
		}
	}
	return nil
}
