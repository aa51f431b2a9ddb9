package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// App is an app's row.
type App struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	Locked    bool
	// Stopped is set by ps:stop: the app's processes should not run.
	Stopped bool
}

// Scope selects whose config or properties an operation touches: an app's,
// or the global ones (Global).
type Scope int64

// Global is the scope of global config and properties.
const Global Scope = 0

// Scope returns the app's scope.
func (a App) Scope() Scope { return Scope(a.ID) }

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// CreateApp inserts a new app. It returns ErrAppExists when the name is taken.
func (t *Tx) CreateApp(name string, now time.Time) (App, error) {
	res, err := t.exec("INSERT INTO apps (name, created_at) VALUES (?, ?)", name, now.Unix())
	if isUniqueViolation(err) {
		return App{}, ErrAppExists
	}
	if err != nil {
		return App{}, fmt.Errorf("create app %s: %w", name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return App{}, err
	}
	return App{ID: id, Name: name, CreatedAt: time.Unix(now.Unix(), 0)}, nil
}

// App returns the app with the given name, or ErrAppNotFound.
func (t *Tx) App(name string) (App, error) {
	var a App
	var created int64
	err := t.tx.QueryRowContext(t.ctx, "SELECT id, name, created_at, locked, stopped FROM apps WHERE name = ?", name).
		Scan(&a.ID, &a.Name, &created, &a.Locked, &a.Stopped)
	if errors.Is(err, sql.ErrNoRows) {
		return App{}, ErrAppNotFound
	}
	if err != nil {
		return App{}, fmt.Errorf("read app %s: %w", name, err)
	}
	a.CreatedAt = time.Unix(created, 0)
	return a, nil
}

// Apps returns every app, sorted by name.
func (t *Tx) Apps() ([]App, error) {
	apps, err := queryRows(t, func(row scanner) (App, error) {
		var a App
		var created int64
		err := row.Scan(&a.ID, &a.Name, &created, &a.Locked, &a.Stopped)
		a.CreatedAt = time.Unix(created, 0)
		return a, err
	}, "SELECT id, name, created_at, locked, stopped FROM apps ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return apps, nil
}

// ownedTables lists the tables holding per-app rows keyed by app_id without a
// foreign key (because app_id 0 means global there). DeleteApp clears them;
// tables added later that reference apps(id) use ON DELETE CASCADE instead.
var ownedTables = []string{"config", "properties"}

// DeleteApp removes an app and everything the database keeps for it.
func (t *Tx) DeleteApp(a App) error {
	// The app row goes first: an App that names no row (the zero App's ID
	// is the global scope's) must not clear anything.
	res, err := t.exec("DELETE FROM apps WHERE id = ?", a.ID)
	if err != nil {
		return fmt.Errorf("delete app %s: %w", a.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrAppNotFound
	}
	for _, table := range ownedTables {
		if _, err := t.exec("DELETE FROM "+table+" WHERE app_id = ?", a.ID); err != nil {
			return fmt.Errorf("delete %s of %s: %w", table, a.Name, err)
		}
	}
	return nil
}

// RenameApp gives an app a new name; everything keyed by its id follows.
func (t *Tx) RenameApp(a App, newName string) error {
	_, err := t.exec("UPDATE apps SET name = ? WHERE id = ?", newName, a.ID)
	if isUniqueViolation(err) {
		return ErrAppExists
	}
	if err != nil {
		return fmt.Errorf("rename app %s: %w", a.Name, err)
	}
	return nil
}

// CopyAppState copies the config and properties of one app to another.
func (t *Tx) CopyAppState(from, to App) error {
	for _, table := range ownedTables {
		cols := "key, value"
		if table == "properties" {
			cols = "namespace, key, value"
		}
		q := fmt.Sprintf("INSERT OR REPLACE INTO %s (app_id, %s) SELECT ?, %s FROM %s WHERE app_id = ?", table, cols, cols, table)
		if _, err := t.exec(q, to.ID, from.ID); err != nil {
			return fmt.Errorf("copy %s of %s: %w", table, from.Name, err)
		}
	}
	return nil
}

// SetLocked sets or clears an app's manual deploy lock (apps:lock).
func (t *Tx) SetLocked(a App, locked bool) error {
	_, err := t.exec("UPDATE apps SET locked = ? WHERE id = ?", locked, a.ID)
	return err
}

// SetStopped records whether an app's processes should run (ps:stop/start).
func (t *Tx) SetStopped(a App, stopped bool) error {
	_, err := t.exec("UPDATE apps SET stopped = ? WHERE id = ?", stopped, a.ID)
	return err
}
