package api

import "time"

// CertAdd installs a certificate and key (PEM) for an app.
type CertAdd struct {
	App     string `json:"app"`
	CertPEM string `json:"cert_pem"`
	KeyPEM  string `json:"key_pem"`
}

// CertGenerate makes a self-signed certificate for an app's domain.
type CertGenerate struct {
	App    string `json:"app"`
	Domain string `json:"domain"`
}

// CertInfo describes an app's certificate.
type CertInfo struct {
	App     string   `json:"app"`
	Enabled bool     `json:"enabled"`
	Source  string   `json:"source,omitempty"`
	Domains []string `json:"domains"`
	// Hostnames are the names the certificate covers as Dokku reports
	// them: its subject's CN and every DNS SAN, sorted.
	Hostnames []string  `json:"hostnames,omitempty"`
	Issuer    string    `json:"issuer,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Verified  bool      `json:"verified"` // chains to a root this machine trusts
	CertPEM   string    `json:"cert_pem,omitempty"`
	KeyPEM    string    `json:"key_pem,omitempty"`
	LastError string    `json:"last_error,omitempty"`
}

// CertShow asks for an app's certificate or key.
type CertShow struct {
	App string `json:"app"`
	Key bool   `json:"key,omitempty"`
}

// RedirectSet redirects requests for Src to Dest.
type RedirectSet struct {
	App  string `json:"app"`
	Src  string `json:"src"`
	Dest string `json:"dest"`
	Code int    `json:"code,omitempty"`
}

// RedirectInfo is one redirect.
type RedirectInfo struct {
	Src  string `json:"src"`
	Dest string `json:"dest"`
	Code int    `json:"code"`
}

// RedirectList lists an app's redirects.
type RedirectList struct {
	Redirects []RedirectInfo `json:"redirects"`
}

// TLS operations.
var (
	CertsAdd       = Op[CertAdd, CertInfo]{"certs.add", AppScoped}
	CertsGenerate  = Op[CertGenerate, CertInfo]{"certs.generate", AppScoped}
	CertsRemove    = Op[AppRef, Empty]{"certs.remove", AppScoped}
	CertsInfo      = Op[CertShow, CertInfo]{"certs.info", AppScoped}
	RedirectsSet   = Op[RedirectSet, Empty]{"redirects.set", AppScoped}
	RedirectsUnset = Op[RedirectSet, Empty]{"redirects.unset", AppScoped}
	RedirectsList  = Op[AppRef, RedirectList]{"redirects.list", AppScoped}
)

// LEEntry is one app in letsencrypt:list.
type LEEntry struct {
	App         string    `json:"app"`
	Domains     []string  `json:"domains"`
	Expires     time.Time `json:"expires"`
	NextRenewal time.Time `json:"next_renewal"`
	LastError   string    `json:"last_error,omitempty"`
	Active      bool      `json:"active"`
}

// LEListResult lists the apps with Let's Encrypt enabled.
type LEListResult struct {
	Apps []LEEntry `json:"apps"`
}

// CronJob switches automatic renewal.
type CronJob struct {
	Add bool `json:"add"`
	// Show only reads the status (letsencrypt:cron-job without a flag).
	Show bool `json:"show,omitempty"`
}

// CronStatus says whether automatic renewal is on.
type CronStatus struct {
	Enabled bool `json:"enabled"`
}

// Let's Encrypt operations.
var (
	LEEnable    = Op[PSRequest, Empty]{"letsencrypt.enable", AppScoped}
	LEDisable   = Op[AppRef, Empty]{"letsencrypt.disable", AppScoped}
	LEList      = Op[Empty, LEListResult]{"letsencrypt.list", AdminOnly}
	LEAutoRenew = Op[AppRef, Empty]{"letsencrypt.auto-renew", AppScoped}
	LECronJob   = Op[CronJob, CronStatus]{"letsencrypt.cron-job", AdminOnly}
	LERevoke    = Op[AppRef, Empty]{"letsencrypt.revoke", AppScoped}
)
