package store

import (
	"database/sql"
	"errors"
	"fmt"
)

// DomainTakenError is returned when a domain is added to an app while
// another app has it.
type DomainTakenError struct {
	Domain string
	App    string // the app that has it
}

func (e *DomainTakenError) Error() string {
	return fmt.Sprintf("domain %s is already used by app %s", e.Domain, e.App)
}

// Domains returns an app's domains in the order they were added.
func (t *Tx) Domains(a App) ([]string, error) {
	names, err := queryRows(t, func(row scanner) (string, error) {
		var n string
		return n, row.Scan(&n)
	}, "SELECT name FROM domains WHERE app_id = ? ORDER BY id", a.ID)
	if err != nil {
		return nil, fmt.Errorf("read domains of %s: %w", a.Name, err)
	}
	return names, nil
}

// AllDomains returns every app's domains, by app name, each list in the
// order its domains were added. Apps without domains are left out.
func (t *Tx) AllDomains() (map[string][]string, error) {
	out := map[string][]string{}
	err := t.eachRow(func(row scanner) error {
		var app, d string
		err := row.Scan(&app, &d)
		out[app] = append(out[app], d)
		return err
	}, "SELECT apps.name, domains.name FROM domains JOIN apps ON apps.id = domains.app_id ORDER BY domains.id")
	if err != nil {
		return nil, fmt.Errorf("read domains: %w", err)
	}
	return out, nil
}

// DomainOwner returns the name of the app that has a domain, if any.
func (t *Tx) DomainOwner(name string) (appName string, ok bool, err error) {
	_, appName, ok, err = t.domainOwner(name)
	return appName, ok, err
}

func (t *Tx) domainOwner(name string) (appID int64, appName string, ok bool, err error) {
	err = t.tx.QueryRowContext(t.ctx, "SELECT apps.id, apps.name FROM domains JOIN apps ON apps.id = domains.app_id WHERE domains.name = ?", name).Scan(&appID, &appName)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("read owner of domain %s: %w", name, err)
	}
	return appID, appName, true, nil
}

// AddDomains adds domains to an app, after those it has. Names the app
// already has (or that repeat) are skipped. If another app has one of them,
// nothing is added and the error is a *DomainTakenError naming that app.
// Names are stored as given: callers validate and lower-case them.
func (t *Tx) AddDomains(a App, names []string) error {
	var todo []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		id, owner, ok, err := t.domainOwner(n)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			todo = append(todo, n)
		case id != a.ID:
			return &DomainTakenError{Domain: n, App: owner}
		}
	}
	for _, n := range todo {
		if _, err := t.exec("INSERT INTO domains (app_id, name) VALUES (?, ?)", a.ID, n); err != nil {
			if isUniqueViolation(err) {
				return &DomainTakenError{Domain: n, App: "(unknown)"}
			}
			return fmt.Errorf("add domain %s to %s: %w", n, a.Name, err)
		}
	}
	return nil
}

// RemoveDomains removes domains from an app and returns those it had.
func (t *Tx) RemoveDomains(a App, names []string) ([]string, error) {
	var removed []string
	for _, n := range names {
		res, err := t.exec("DELETE FROM domains WHERE app_id = ? AND name = ?", a.ID, n)
		if err != nil {
			return nil, fmt.Errorf("remove domain %s from %s: %w", n, a.Name, err)
		}
		if k, _ := res.RowsAffected(); k > 0 {
			removed = append(removed, n)
		}
	}
	return removed, nil
}

// ClearDomains removes every domain of an app.
func (t *Tx) ClearDomains(a App) error {
	if _, err := t.exec("DELETE FROM domains WHERE app_id = ?", a.ID); err != nil {
		return fmt.Errorf("clear domains of %s: %w", a.Name, err)
	}
	return nil
}

// SetDomains replaces an app's domains with names, in that order. If another
// app has one of them, nothing changes and the error is a *DomainTakenError.
func (t *Tx) SetDomains(a App, names []string) error {
	for _, n := range names {
		id, owner, ok, err := t.domainOwner(n)
		if err != nil {
			return err
		}
		if ok && id != a.ID {
			return &DomainTakenError{Domain: n, App: owner}
		}
	}
	if err := t.ClearDomains(a); err != nil {
		return err
	}
	return t.AddDomains(a, names)
}

// ReplaceDomain renames one domain of an app in place (keeping its position).
// It reports false when the app does not have from. If another app has to,
// the error is a *DomainTakenError; if this app has it too, from is removed.
func (t *Tx) ReplaceDomain(a App, from, to string) (bool, error) {
	id, owner, ok, err := t.domainOwner(to)
	if err != nil {
		return false, err
	}
	if ok && id != a.ID {
		return false, &DomainTakenError{Domain: to, App: owner}
	}
	if ok {
		removed, err := t.RemoveDomains(a, []string{from})
		return len(removed) > 0, err
	}
	res, err := t.exec("UPDATE domains SET name = ? WHERE app_id = ? AND name = ?", to, a.ID, from)
	if err != nil {
		return false, fmt.Errorf("rename domain %s of %s: %w", from, a.Name, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
