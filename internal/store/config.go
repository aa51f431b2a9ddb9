package store

import (
	"database/sql"
	"errors"
	"fmt"
)

// Config returns the config vars of a scope.
func (t *Tx) Config(s Scope) (map[string]string, error) {
	vars, err := t.keyValues("SELECT key, value FROM config WHERE app_id = ?", int64(s))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return vars, nil
}

// SetConfig sets the given vars in a scope, leaving others alone.
func (t *Tx) SetConfig(s Scope, vars map[string]string) error {
	for k, v := range vars {
		if _, err := t.exec("INSERT INTO config (app_id, key, value) VALUES (?, ?, ?) ON CONFLICT (app_id, key) DO UPDATE SET value = excluded.value", int64(s), k, v); err != nil {
			return fmt.Errorf("set config %s: %w", k, err)
		}
	}
	return nil
}

// UnsetConfig removes the given keys from a scope and returns those that
// were set.
func (t *Tx) UnsetConfig(s Scope, keys []string) ([]string, error) {
	var removed []string
	for _, k := range keys {
		res, err := t.exec("DELETE FROM config WHERE app_id = ? AND key = ?", int64(s), k)
		if err != nil {
			return nil, fmt.Errorf("unset config %s: %w", k, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			removed = append(removed, k)
		}
	}
	return removed, nil
}

// ClearConfig removes every var of a scope.
func (t *Tx) ClearConfig(s Scope) error {
	_, err := t.exec("DELETE FROM config WHERE app_id = ?", int64(s))
	return err
}

// Property returns one setting of a scope and whether it is set.
func (t *Tx) Property(s Scope, namespace, key string) (string, bool, error) {
	var v string
	err := t.tx.QueryRowContext(t.ctx, "SELECT value FROM properties WHERE app_id = ? AND namespace = ? AND key = ?", int64(s), namespace, key).Scan(&v)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("read %s %s: %w", namespace, key, err)
	}
	return v, true, nil
}

// Properties returns every setting of a namespace in a scope.
func (t *Tx) Properties(s Scope, namespace string) (map[string]string, error) {
	out, err := t.keyValues("SELECT key, value FROM properties WHERE app_id = ? AND namespace = ?", int64(s), namespace)
	if err != nil {
		return nil, fmt.Errorf("read %s settings: %w", namespace, err)
	}
	return out, nil
}

// NamespaceProperties returns every setting of a namespace in every
// scope (Global and each app that has one): one query for every app.
func (t *Tx) NamespaceProperties(namespace string) (map[Scope]map[string]string, error) {
	out := map[Scope]map[string]string{}
	err := t.eachRow(func(row scanner) error {
		var id int64
		var k, v string
		if err := row.Scan(&id, &k, &v); err != nil {
			return err
		}
		if out[Scope(id)] == nil {
			out[Scope(id)] = map[string]string{}
		}
		out[Scope(id)][k] = v
		return nil
	}, "SELECT app_id, key, value FROM properties WHERE namespace = ?", namespace)
	if err != nil {
		return nil, fmt.Errorf("read %s settings: %w", namespace, err)
	}
	return out, nil
}

// SetProperty sets one setting of a scope.
func (t *Tx) SetProperty(s Scope, namespace, key, value string) error {
	_, err := t.exec("INSERT INTO properties (app_id, namespace, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (app_id, namespace, key) DO UPDATE SET value = excluded.value", int64(s), namespace, key, value)
	if err != nil {
		return fmt.Errorf("set %s %s: %w", namespace, key, err)
	}
	return nil
}

// UnsetProperty removes one setting of a scope.
func (t *Tx) UnsetProperty(s Scope, namespace, key string) error {
	_, err := t.exec("DELETE FROM properties WHERE app_id = ? AND namespace = ? AND key = ?", int64(s), namespace, key)
	return err
}
