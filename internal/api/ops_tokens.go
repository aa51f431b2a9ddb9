package api

import (
	"encoding/json"
	"time"
)

// TokenCreate makes an API token (tokens:create).
type TokenCreate struct {
	Name string `json:"name"`
	// Apps limits the token to those apps' app-scoped operations; empty:
	// an admin token.
	Apps     []string `json:"apps,omitempty"`
	ReadOnly bool     `json:"read_only,omitempty"`
}

// TokenInfo describes a token; never its secret.
type TokenInfo struct {
	Name      string     `json:"name"`
	Admin     bool       `json:"admin"`
	Apps      []string   `json:"apps,omitempty"`
	ReadOnly  bool       `json:"read_only"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
}

// TokenCreated is a new token with its secret, shown once: only its hash
// is kept.
type TokenCreated struct {
	TokenInfo
	Secret string `json:"secret"`
}

// TokenRef names a token.
type TokenRef struct {
	Name string `json:"name"`
}

// TokenList lists tokens by name.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// EventsRequest asks for the audit log, newest first: one app's changes
// or (admin only) every change.
type EventsRequest struct {
	App string `json:"app,omitempty"`
	// Limit is how many events at most (default 50, at most 1000).
	Limit int `json:"limit,omitempty"`
}

// AppName is the app of the request ("" for every app).
func (r EventsRequest) AppName() string { return r.App }

// Event is one change in the audit log: who made which call, when, and
// how it ended.
type Event struct {
	ID   int64     `json:"id"`
	Time time.Time `json:"time"`
	// Who: "root" (the local CLI), "key:NAME" or "token:NAME".
	Who string `json:"who"`
	Op  string `json:"op"`
	App string `json:"app,omitempty"`
	// Args is the request, secret values masked.
	Args       json.RawMessage `json:"args,omitempty"`
	OK         bool            `json:"ok"`
	Error      string          `json:"error,omitempty"`
	DurationMS int64           `json:"duration_ms"`
}

// EventList is the response of EventsList.
type EventList struct {
	Events []Event `json:"events"`
}

// DashboardChange sets (or with Unset clears) one dashboard setting
// (dashboard:set): "domain", or "letsencrypt" (true or false).
type DashboardChange struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	Unset bool   `json:"unset,omitempty"`
}

// DashboardPasswordChange sets (empty: removes) the dashboard's password.
// The field is named password so the audit log masks it.
type DashboardPasswordChange struct {
	Password string `json:"password,omitempty"`
}

// DashboardInfo says where the HTTP API is served.
type DashboardInfo struct {
	// Listen is the daemon's loopback HTTP address (BERTH_API_ADDR).
	Listen string `json:"listen"`
	// Domain is the domain the proxy serves it at ("" for none).
	Domain string `json:"domain"`
	// URL is where to reach it through the proxy ("" without a domain).
	URL string `json:"url"`
	// TLS says whether the domain has a certificate.
	TLS bool `json:"tls"`
	// LetsEncrypt says whether Berth gets and renews its certificate
	// (dashboard:set letsencrypt true).
	LetsEncrypt bool `json:"letsencrypt"`
	// CertExpires is when the certificate expires (nil: none).
	CertExpires *time.Time `json:"cert_expires,omitempty"`
	// CertError is the last failure to get one ("" after a success).
	CertError string `json:"cert_error,omitempty"`
}

// Token, audit log and dashboard operations.
var (
	TokensCreate = Op[TokenCreate, TokenCreated]{"tokens.create", AdminOnly}
	TokensList   = Op[Empty, TokenList]{"tokens.list", AdminOnly}
	TokensRevoke = Op[TokenRef, TokenInfo]{"tokens.revoke", AdminOnly}

	// EventsList: a caller limited to some apps names one of them.
	EventsList = Op[EventsRequest, EventList]{"events.list", AppScoped}

	DashboardSet    = Op[DashboardChange, Empty]{"dashboard.set", AdminOnly}
	DashboardReport = Op[Empty, DashboardInfo]{"dashboard.report", AdminOnly}
	// DashboardPassword sets the dashboard's login password
	// (dashboard:set password); only its hash is kept.
	DashboardPassword = Op[DashboardPasswordChange, Empty]{"dashboard.password", AdminOnly}
)
