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

// Service is a backing datastore (a postgres or redis service).
type Service struct {
	ID        int64
	Kind      string
	Name      string
	Image     string
	Password  string
	CustomEnv string // "A=b;C=d"
	Memory    int64  // bytes; 0 is no limit
	ShmSize   int64  // bytes; 0 is the engine default
	Expose    string // "ADDR:PORT" or ""
	CreatedAt time.Time
}

// Link is a service linked to an app through a config var.
type Link struct {
	Service Service
	App     string
	Var     string
	Query   string
}

const serviceCols = "s.id, s.kind, s.name, s.image, s.password, s.custom_env, s.memory, s.shm_size, s.expose, s.created_at"

func scanService(sc interface{ Scan(...any) error }, extra ...any) (Service, error) {
	var s Service
	var created int64
	err := sc.Scan(append([]any{&s.ID, &s.Kind, &s.Name, &s.Image, &s.Password, &s.CustomEnv, &s.Memory, &s.ShmSize, &s.Expose, &created}, extra...)...)
	s.CreatedAt = time.Unix(created, 0)
	return s, err
}

// CreateService inserts a service; a taken name gives ErrServiceExists.
func (t *Tx) CreateService(s Service) (Service, error) {
	res, err := t.exec("INSERT INTO services (kind, name, image, password, custom_env, memory, shm_size, expose, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.Kind, s.Name, s.Image, s.Password, s.CustomEnv, s.Memory, s.ShmSize, s.Expose, s.CreatedAt.Unix())
	if isUniqueViolation(err) {
		return s, ErrServiceExists
	}
	if err != nil {
		return s, fmt.Errorf("create %s service %s: %w", s.Kind, s.Name, err)
	}
	s.ID, err = res.LastInsertId()
	return s, err
}

// UpdateService saves a service's image, password, options and exposure.
func (t *Tx) UpdateService(s Service) error {
	_, err := t.exec("UPDATE services SET image = ?, password = ?, custom_env = ?, memory = ?, shm_size = ?, expose = ? WHERE id = ?",
		s.Image, s.Password, s.CustomEnv, s.Memory, s.ShmSize, s.Expose, s.ID)
	return err
}

// Service returns the service of a kind with a name, or ErrServiceNotFound.
func (t *Tx) Service(kind, name string) (Service, error) {
	s, err := scanService(t.tx.QueryRowContext(t.ctx, "SELECT "+serviceCols+" FROM services s WHERE s.kind = ? AND s.name = ?", kind, name))
	if errors.Is(err, sql.ErrNoRows) {
		return s, ErrServiceNotFound
	}
	return s, err
}

// Services lists the services of a kind by name; kind "" lists all.
func (t *Tx) Services(kind string) ([]Service, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+serviceCols+" FROM services s WHERE ? = '' OR s.kind = ? ORDER BY s.kind, s.name", kind, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Service
	for rows.Next() {
		s, err := scanService(rows)
		if err != nil {
			return nil, err
		}
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
	rows, err := t.tx.QueryContext(t.ctx, "SELECT a.name, l.var, l.query FROM service_links l JOIN apps a ON a.id = l.app_id WHERE l.service_id = ? ORDER BY a.name", s.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l := Link{Service: s}
		if err := rows.Scan(&l.App, &l.Var, &l.Query); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// AppLinks returns the services linked to an app.
func (t *Tx) AppLinks(a App) ([]Link, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+serviceCols+", l.var, l.query FROM service_links l JOIN services s ON s.id = l.service_id WHERE l.app_id = ? ORDER BY s.kind, s.name", a.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		l := Link{App: a.Name}
		if l.Service, err = scanService(rows, &l.Var, &l.Query); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// AddLink links a service to an app through a config var.
func (t *Tx) AddLink(l Link, a App) error {
	_, err := t.exec("INSERT INTO service_links (service_id, app_id, var, query) VALUES (?, ?, ?, ?)", l.Service.ID, a.ID, l.Var, l.Query)
	return err
}

// SetLinkVar changes the config var of a link.
func (t *Tx) SetLinkVar(s Service, a App, v string) error {
	_, err := t.exec("UPDATE service_links SET var = ? WHERE service_id = ? AND app_id = ?", v, s.ID, a.ID)
	return err
}

// RemoveLink unlinks a service from an app.
func (t *Tx) RemoveLink(s Service, a App) error {
	_, err := t.exec("DELETE FROM service_links WHERE service_id = ? AND app_id = ?", s.ID, a.ID)
	return err
}
