package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Service errors.
var (
	ErrServiceNotFound = errors.New("service not found")
	ErrServiceExists   = errors.New("service already exists")
)

// Service is a backing datastore.
type Service struct {
	ID        int64
	Kind      string
	Name      string
	Image     string
	Password  string
	CreatedAt time.Time
}

// Link is a service linked to an app through a config var.
type Link struct {
	Service Service
	App     string
	Var     string
}

// CreateService inserts a service; a taken name gives ErrServiceExists.
func (t *Tx) CreateService(s Service) (Service, error) {
	res, err := t.exec("INSERT INTO services (kind, name, image, password, created_at) VALUES (?, ?, ?, ?, ?)", s.Kind, s.Name, s.Image, s.Password, s.CreatedAt.Unix())
	if isUniqueViolation(err) {
		return s, ErrServiceExists
	}
	if err != nil {
		return s, fmt.Errorf("create %s service %s: %w", s.Kind, s.Name, err)
	}
	s.ID, err = res.LastInsertId()
	return s, err
}

// Service returns the service of a kind with a name, or ErrServiceNotFound.
func (t *Tx) Service(kind, name string) (Service, error) {
	var s Service
	var created int64
	err := t.tx.QueryRowContext(t.ctx, "SELECT id, kind, name, image, password, created_at FROM services WHERE kind = ? AND name = ?", kind, name).
		Scan(&s.ID, &s.Kind, &s.Name, &s.Image, &s.Password, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrServiceNotFound
	}
	s.CreatedAt = time.Unix(created, 0)
	return s, err
}

// Services lists the services of a kind by name.
func (t *Tx) Services(kind string) ([]Service, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT id, kind, name, image, password, created_at FROM services WHERE kind = ? ORDER BY name", kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Service
	for rows.Next() {
		var s Service
		var created int64
		if err := rows.Scan(&s.ID, &s.Kind, &s.Name, &s.Image, &s.Password, &created); err != nil {
			return nil, err
		}
		s.CreatedAt = time.Unix(created, 0)
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteService removes a service (its links go with it).
func (t *Tx) DeleteService(s Service) error {
	_, err := t.exec("DELETE FROM services WHERE id = ?", s.ID)
	return err
}

// ServiceLinks returns the apps a service is linked to.
func (t *Tx) ServiceLinks(s Service) ([]Link, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT a.name, l.var FROM service_links l JOIN apps a ON a.id = l.app_id WHERE l.service_id = ? ORDER BY a.name", s.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l := Link{Service: s}
		if err := rows.Scan(&l.App, &l.Var); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// AppLinks returns the services linked to an app.
func (t *Tx) AppLinks(a App) ([]Link, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT s.id, s.kind, s.name, s.image, s.password, s.created_at, l.var FROM service_links l JOIN services s ON s.id = l.service_id WHERE l.app_id = ? ORDER BY s.kind, s.name", a.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l := Link{App: a.Name}
		var created int64
		if err := rows.Scan(&l.Service.ID, &l.Service.Kind, &l.Service.Name, &l.Service.Image, &l.Service.Password, &created, &l.Var); err != nil {
			return nil, err
		}
		l.Service.CreatedAt = time.Unix(created, 0)
		out = append(out, l)
	}
	return out, rows.Err()
}

// AddLink links a service to an app through var.
func (t *Tx) AddLink(s Service, a App, v string) error {
	_, err := t.exec("INSERT INTO service_links (service_id, app_id, var) VALUES (?, ?, ?)", s.ID, a.ID, v)
	return err
}

// RemoveLink unlinks a service from an app.
func (t *Tx) RemoveLink(s Service, a App) error {
	_, err := t.exec("DELETE FROM service_links WHERE service_id = ? AND app_id = ?", s.ID, a.ID)
	return err
}
