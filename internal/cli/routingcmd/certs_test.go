package routingcmd

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/api"
)

// tarOf returns a tar holding the named files.
func tarOf(t *testing.T, files ...[2]string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o600, Size: int64(len(f[1]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f[1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestCerts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	os.WriteFile(crt, []byte("CRT PEM\n"), 0o600)
	os.WriteFile(key, []byte("KEY PEM\n"), 0o600)
	added := map[string]reply{"certs.add": {Resp: api.CertInfo{App: "shop", Enabled: true, Domains: []string{"shop.com", "www.shop.com"}, NotAfter: time.Date(2027, 3, 4, 23, 0, 0, 0, time.FixedZone("X", -7200))}}}
	addedOut := "-----> Added a certificate to shop for shop.com www.shop.com (expires 2027-03-05)\n"
	enabled := api.CertInfo{App: "shop", Enabled: true, Source: "manual", Domains: []string{"shop.com"}, Hostnames: []string{"shop.com"}, Issuer: "CN=shop CA", Subject: "CN=shop.com",
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Verified: true, CertPEM: "CRT PEM\n", KeyPEM: "KEY PEM\n"}
	certInfo := map[string]reply{"certs.info": {Resp: enabled}}
	noCert := map[string]reply{"certs.info": {Resp: api.CertInfo{App: "shop", NotAfter: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	runCases(t, []cliCase{
		{Name: "add files", Args: []string{"certs:add", "shop", crt, key}, Replies: added, Ops: []string{"certs.add"},
			Reqs: map[string]string{"certs.add": `{"app":"shop","cert_pem":"CRT PEM\n","key_pem":"KEY PEM\n"}`}, Stdout: addedOut},
		{Name: "add tar", Args: []string{"certs:add", "shop"}, Stdin: tarOf(t, [2]string{"./server.crt", "C"}, [2]string{"README", "x"}, [2]string{"server.key", "K"}),
			Replies: added, Ops: []string{"certs.add"}, Reqs: map[string]string{"certs.add": `{"app":"shop","cert_pem":"C","key_pem":"K"}`}, Stdout: addedOut},
		{Name: "update tar", Args: []string{"certs:update", "shop"}, Stdin: tarOf(t, [2]string{"server.crt", "C"}, [2]string{"server.key", "K"}),
			Replies: added, Ops: []string{"certs.add"}, Stdout: addedOut},
		{Name: "tar without key", Args: []string{"certs:add", "shop"}, Stdin: tarOf(t, [2]string{"server.crt", "C"}), Code: 1, ErrLine: "The tar must hold server.crt and server.key"},
		{Name: "nothing on stdin", Args: []string{"certs:add", "shop"}, Code: 1, ErrLine: "The tar must hold server.crt and server.key"},
		{Name: "not a tar", Args: []string{"certs:add", "shop"}, Stdin: strings.Repeat("not a tar ", 100), Code: 1, ErrLine: "Give CRT and KEY files, or a tar with server.crt and server.key on stdin ("},
		{Name: "one file", Args: []string{"certs:add", "shop", crt}, Code: 1, ErrLine: "Give CRT and KEY files, or a tar with server.crt and server.key on stdin"},
		{Name: "missing cert file", Args: []string{"certs:add", "shop", filepath.Join(dir, "none"), key}, Code: 1, ErrLine: "Cannot read the certificate:"},
		{Name: "missing key file", Args: []string{"certs:add", "shop", crt, filepath.Join(dir, "none")}, Code: 1, ErrLine: "Cannot read the key:"},
		{Name: "key does not match", Args: []string{"certs:add", "shop", crt, key}, Replies: map[string]reply{"certs.add": {Err: api.Errorf(api.CodeInvalid, "The key does not match the certificate")}},
			Code: 1, Ops: []string{"certs.add"}, ErrLine: "The key does not match the certificate"},

		{Args: []string{"certs:generate", "shop", "www.shop.com"}, Replies: map[string]reply{"certs.generate": {Resp: api.CertInfo{Domains: []string{"www.shop.com", "shop.com"}}}},
			Ops: []string{"certs.generate"}, Reqs: map[string]string{"certs.generate": `{"app":"shop","domain":"www.shop.com"}`},
			Stdout: "-----> Installed a self-signed certificate for www.shop.com shop.com\n"},
		{Args: []string{"certs:generate", "shop"}, Replies: map[string]reply{"certs.generate": {Resp: api.CertInfo{Domains: []string{"shop.com"}}}},
			Ops: []string{"certs.generate"}, Reqs: map[string]string{"certs.generate": `{"app":"shop","domain":""}`}, Stdout: "-----> Installed a self-signed certificate for shop.com\n"},
		{Args: []string{"certs:generate", "shop", "a.com", "b.com"}, Code: 1, ErrLine: "Unexpected argument(s): b.com"},
		{Args: []string{"certs:remove", "shop"}, Replies: map[string]reply{"certs.remove": {}}, Ops: []string{"certs.remove"},
			Reqs: map[string]string{"certs.remove": `{"app":"shop"}`}, Stdout: "-----> Removed the certificate of shop\n"},

		{Args: []string{"certs:show", "shop", "crt"}, Replies: certInfo, Ops: []string{"certs.info"}, Reqs: map[string]string{"certs.info": `{"app":"shop"}`}, Stdout: "CRT PEM\n"},
		{Args: []string{"certs:show", "shop", "key"}, Replies: certInfo, Ops: []string{"certs.info"}, Reqs: map[string]string{"certs.info": `{"app":"shop","key":true}`}, Stdout: "KEY PEM\n"},
		{Name: "show without a cert", Args: []string{"certs:show", "shop", "crt"}, Replies: noCert, Code: 1, Ops: []string{"certs.info"}, ErrLine: "shop has no certificate"},
		{Args: []string{"certs:show", "shop", "pem"}, Replies: certInfo, Code: 1, Ops: []string{"certs.info"}, ErrLine: "Please specify either 'key' or 'crt': berth certs:show shop crt|key"},
		{Args: []string{"certs:show", "shop"}, Replies: certInfo, Code: 1, Ops: []string{"certs.info"}, ErrLine: "Please specify either 'key' or 'crt': berth certs:show shop crt|key"},
		{Args: []string{"certs:report", "--global", "--format", "json"}, Stdout: "{}\n"},
		{Args: []string{"certs:report", "--global"}, Stdout: "=====> global ssl information\n"},
		{Args: []string{"certs:report", "--global", "--ssl-bogus"}, Code: 1, ErrLine: "Invalid flag passed"},
		{Name: "show: the app first", Args: []string{"certs:show", "gone"}, Replies: map[string]reply{"certs.info": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"certs.info"}, ErrLine: "App gone does not exist"},

		{Args: []string{"certs:report", "shop", "--ssl-expires-at"}, Replies: certInfo, Ops: []string{"certs.info"}, Stdout: "2027-01-01T00:00:00Z\n"},
		{Args: []string{"certs:report", "shop", "--ssl-hostnames"}, Replies: certInfo, Ops: []string{"certs.info"}, Stdout: "shop.com\n"},
		{Name: "no dates without a cert", Args: []string{"certs:report", "shop", "--ssl-expires-at"}, Replies: noCert, Ops: []string{"certs.info"}, Stdout: "\n"},
		{Args: []string{"certs:report", "shop", "--format", "json"}, Replies: certInfo, Ops: []string{"certs.info"},
			Stdout: `{"enabled":"true","expires-at":"2027-01-01T00:00:00Z","hostnames":"shop.com","issuer":"CN=shop CA","source":"manual","starts-at":"2026-01-01T00:00:00Z","subject":"CN=shop.com","verified":"true"}` + "\n"},
		{Args: []string{"certs:report", "shop"}, Replies: certInfo, Ops: []string{"certs.info"},
			Has: []string{"=====> shop ssl information\n", sp(7) + "Ssl enabled:" + sp(19) + "true\n", sp(7) + "Ssl verified:" + sp(18) + "true\n"}},
		{Args: []string{"certs:report", "gone"}, Replies: map[string]reply{"certs.info": {Err: api.AppNotFound("gone")}}, Code: 20, Ops: []string{"certs.info"}, ErrLine: "App gone does not exist"},
	})
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	list := map[string]reply{"redirects.list": {Resp: api.RedirectList{Redirects: []api.RedirectInfo{{Src: "old.com", Dest: "new.com", Code: 301}}}}}
	set := "-----> Setting redirect for shop...\n" + sp(7) + "old.com -> new.com\n"
	runCases(t, []cliCase{
		{Name: "dokku-redirect's table", Args: []string{"redirect", "shop"}, Replies: list, Ops: []string{"redirects.list"}, Reqs: map[string]string{"redirects.list": `{"app":"shop"}`},
			Stdout: "SOURCE   DESTINATION  CODE\n" + "old.com  new.com      301\n"},
		{Args: []string{"redirect", "shop", "--format", "json"}, Replies: list, Ops: []string{"redirects.list"}, Stdout: `[{"src":"old.com","dest":"new.com","code":301}]` + "\n"},
		{Name: "no redirects", Args: []string{"redirect", "shop"}, Replies: map[string]reply{"redirects.list": {Resp: api.RedirectList{}}}, Ops: []string{"redirects.list"},
			Stderr: " !     There are no redirects for shop\n"},
		{Args: []string{"redirect:set", "shop", "old.com", "new.com"}, Replies: map[string]reply{"redirects.set": {}}, Ops: []string{"redirects.set"},
			Reqs: map[string]string{"redirects.set": `{"app":"shop","src":"old.com","dest":"new.com"}`}, Stdout: set},
		{Args: []string{"redirect:set", "shop", "old.com", "new.com", "302"}, Replies: map[string]reply{"redirects.set": {}}, Ops: []string{"redirects.set"},
			Reqs: map[string]string{"redirects.set": `{"app":"shop","src":"old.com","dest":"new.com","code":302}`}, Stdout: set},
		{Args: []string{"redirect:set", "shop", "old.com", "new.com", "moved"}, Code: 1, ErrLine: `Invalid redirect code "moved": use 301, 302, 303, 307 or 308`},
		{Name: "missing arguments: the daemon checks the app first", Args: []string{"redirect:set", "gone", "old.com"}, Replies: map[string]reply{"redirects.set": {Err: api.AppNotFound("gone")}},
			Code: 20, Ops: []string{"redirects.set"}, Reqs: map[string]string{"redirects.set": `{"app":"gone","src":"","dest":""}`}, ErrLine: "App gone does not exist"},
		{Args: []string{"redirect:set", "shop", "a", "b", "301", "x"}, Code: 1, ErrLine: "Unexpected argument(s): x"},
		{Name: "daemon refuses the code", Args: []string{"redirect:set", "shop", "a.com", "b.com", "200"}, Replies: map[string]reply{"redirects.set": {Err: api.Errorf(api.CodeInvalid, "Invalid redirect code 200")}},
			Code: 1, Ops: []string{"redirects.set"}, ErrLine: "Invalid redirect code 200"},
		{Args: []string{"redirect:unset", "shop", "old.com"}, Replies: map[string]reply{"redirects.unset": {}}, Ops: []string{"redirects.unset"},
			Reqs: map[string]string{"redirects.unset": `{"app":"shop","src":"old.com","dest":""}`}, Stdout: "-----> Unsetting redirect for shop...\n" + sp(7) + "old.com\n"},
		{Args: []string{"redirect:unset", "shop"}, Replies: map[string]reply{"redirects.unset": {Err: api.Errorf(api.CodeInvalid, "Please provide a source domain")}},
			Code: 1, Ops: []string{"redirects.unset"}, ErrLine: "Please provide a source domain"},
	})
}

func TestLetsEncrypt(t *testing.T) {
	t.Parallel()
	info := func(enabled bool, source string) map[string]reply {
		return map[string]reply{"certs.info": {Resp: api.CertInfo{Enabled: enabled, Source: source}}}
	}
	entry := api.LEEntry{App: "shop", Domains: []string{"shop.com", "www.shop.com"}, Expires: time.Now().Add(60 * 24 * time.Hour),
		NextRenewal: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), LastError: "rate limited"}
	list := map[string]reply{"letsencrypt.list": {Resp: api.LEListResult{Apps: []api.LEEntry{entry, {App: "blog"}}}}}
	runCases(t, []cliCase{
		{Args: []string{"letsencrypt:enable", "shop"}, Replies: map[string]reply{"letsencrypt.enable": {Stdout: "-----> Getting a certificate\n"}}, Ops: []string{"letsencrypt.enable"},
			Reqs: map[string]string{"letsencrypt.enable": `{"app":"shop"}`}, Stdout: "-----> Getting a certificate\n"},
		{Args: []string{"letsencrypt", "shop"}, Replies: map[string]reply{"letsencrypt.enable": {}}, Ops: []string{"letsencrypt.enable"}, Reqs: map[string]string{"letsencrypt.enable": `{"app":"shop"}`}},
		{Args: []string{"letsencrypt:enable", "--all"}, Replies: map[string]reply{"letsencrypt.enable": {}}, Ops: []string{"letsencrypt.enable"}, Reqs: map[string]string{"letsencrypt.enable": `{"all":true}`}},
		{Args: []string{"letsencrypt:enable"}, Code: 1, ErrLine: "Please specify an app to run the command on, or --all"},
		{Name: "enable without an email", Args: []string{"letsencrypt:enable", "shop"}, Replies: map[string]reply{"letsencrypt.enable": {Err: api.Errorf(api.CodeInvalid, "Set an email first")}},
			Code: 1, Ops: []string{"letsencrypt.enable"}, ErrLine: "Set an email first"},
		{Args: []string{"letsencrypt:disable", "shop"}, Replies: map[string]reply{"letsencrypt.disable": {}}, Ops: []string{"letsencrypt.disable"},
			Reqs: map[string]string{"letsencrypt.disable": `{"app":"shop"}`}, Stdout: "-----> Disabled Let's Encrypt for shop\n"},
		{Name: "active", Args: []string{"letsencrypt:active", "shop"}, Replies: info(true, "letsencrypt"), Ops: []string{"certs.info"}, Stdout: "true\n"},
		{Name: "active manual cert", Args: []string{"letsencrypt:active", "shop"}, Replies: info(true, "manual"), Ops: []string{"certs.info"}, Stdout: "false\n"},
		{Name: "active no cert", Args: []string{"letsencrypt:active", "shop"}, Replies: info(false, "letsencrypt"), Ops: []string{"certs.info"}, Stdout: "false\n"},
		{Args: []string{"letsencrypt:list"}, Replies: list, Ops: []string{"letsencrypt.list"},
			Has: []string{"-----> App name", "Certificate Expiry", "shop" + sp(17) + "shop.com,www.shop.com" + sp(20), "2027-02-01 00:00:00  rate limited\n",
				"blog" + sp(17) + sp(41) + "-" + sp(20) + "-" + sp(14) + "-"}},
		{Args: []string{"letsencrypt:list", "--format", "json"}, Replies: list, Ops: []string{"letsencrypt.list"},
			Has: []string{`"app":"shop"`, `"domains":["shop.com","www.shop.com"]`, `"last_error":"rate limited"`}},
		{Args: []string{"letsencrypt:auto-renew"}, Replies: map[string]reply{"letsencrypt.auto-renew": {}}, Ops: []string{"letsencrypt.auto-renew"},
			Reqs: map[string]string{"letsencrypt.auto-renew": `{"app":""}`}, Stdout: "-----> Renewed the certificates that were due\n"},
		{Args: []string{"letsencrypt:auto-renew", "shop"}, Replies: map[string]reply{"letsencrypt.auto-renew": {}}, Ops: []string{"letsencrypt.auto-renew"},
			Reqs: map[string]string{"letsencrypt.auto-renew": `{"app":"shop"}`}, Stdout: "-----> Renewed the certificates that were due\n"},
		{Args: []string{"letsencrypt:cron-job", "--add"}, Replies: map[string]reply{"letsencrypt.cron-job": {Resp: api.CronStatus{Enabled: true}}}, Ops: []string{"letsencrypt.cron-job"},
			Reqs: map[string]string{"letsencrypt.cron-job": `{"add":true}`}, Stdout: "-----> Automatic renewal is on: Berth renews certificates itself (no cron job is needed)\n"},
		{Args: []string{"letsencrypt:cron-job", "--remove"}, Replies: map[string]reply{"letsencrypt.cron-job": {Resp: api.CronStatus{}}}, Ops: []string{"letsencrypt.cron-job"},
			Reqs: map[string]string{"letsencrypt.cron-job": `{"add":false}`}, Stdout: "-----> Automatic renewal is off\n"},
		{Args: []string{"letsencrypt:cron-job", "--add", "--remove"}, Code: 1, ErrLine: "Give --add or --remove, not both"},
		{Name: "cron-job status off", Args: []string{"letsencrypt:cron-job"}, Replies: map[string]reply{"letsencrypt.cron-job": {Resp: api.CronStatus{}}}, Ops: []string{"letsencrypt.cron-job"},
			Reqs: map[string]string{"letsencrypt.cron-job": `{"add":false,"show":true}`}, Stdout: "-----> Auto-renew cron job is not enabled; turn it on with letsencrypt:cron-job --add\n"},
		{Name: "cron-job status on", Args: []string{"letsencrypt:cron-job"}, Replies: map[string]reply{"letsencrypt.cron-job": {Resp: api.CronStatus{Enabled: true}}}, Ops: []string{"letsencrypt.cron-job"},
			Reqs: map[string]string{"letsencrypt.cron-job": `{"add":false,"show":true}`}, Stdout: "-----> Auto-renew cron job is enabled (Berth renews certificates itself); turn it off with letsencrypt:cron-job --remove\n"},
		{Args: []string{"letsencrypt:revoke", "shop"}, Replies: map[string]reply{"letsencrypt.revoke": {}}, Ops: []string{"letsencrypt.revoke"},
			Reqs: map[string]string{"letsencrypt.revoke": `{"app":"shop"}`}, Stdout: "-----> Revoked the certificate of shop\n"},
		{Args: []string{"letsencrypt:cron-job", "--bogus"}, Code: 1, ErrLine: "Invalid flag passed: --bogus; use --add or --remove"},
	})
}

// letsencrypt:report: dokku-letsencrypt's fields (sorted by flag, as every
// report), --global with
// the global values only, every app without one (JSON: one object a line).
func TestLetsEncryptReport(t *testing.T) {
	t.Parallel()
	props := api.PropertyValues{
		App:      map[string]string{"email": "", "graceperiod": "", "server": ""},
		Global:   map[string]string{"email": "ops@shop.com", "graceperiod": "11", "server": ""},
		Computed: map[string]string{"email": "ops@shop.com", "graceperiod": "11", "server": "default"},
	}
	notAfter := time.Unix(1800000000, 0)
	replies := map[string]reply{
		"properties.report":    {Resp: props},
		"certs.info":           {Resp: api.CertInfo{Enabled: true, Source: "letsencrypt", NotAfter: notAfter}},
		"letsencrypt.cron-job": {Resp: api.CronStatus{Enabled: true}},
		"apps.list":            {Resp: api.AppList{Apps: []api.AppInfo{{Name: "blog"}, {Name: "shop"}}}},
	}
	// Report's labels are padded to the longest key's: 34 for an app's
	// (computed-graceperiod), 32 for the global ones (global-graceperiod).
	row := func(label, value string) string { return sp(7) + label + sp(34-len(label)) + value + "\n" }
	grow := func(label, value string) string { return sp(7) + label + sp(32-len(label)) + value + "\n" }
	all := `{"active":"true","autorenew":"true","computed-email":"ops@shop.com","computed-graceperiod":"11","computed-server":"default","email":"","expiration":"1800000000","global-email":"ops@shop.com","global-graceperiod":"11","global-server":"","graceperiod":"","server":""}`
	runCases(t, []cliCase{
		{Args: []string{"letsencrypt:report", "shop"}, Replies: replies, Ops: []string{"properties.report", "certs.info", "letsencrypt.cron-job"},
			Reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"letsencrypt"}`, "certs.info": `{"app":"shop"}`},
			Stdout: "=====> shop letsencrypt information\n" + row("Letsencrypt active:", "true") + row("Letsencrypt autorenew:", "true") +
				row("Letsencrypt computed email:", "ops@shop.com") + row("Letsencrypt computed graceperiod:", "11") + row("Letsencrypt computed server:", "default") +
				row("Letsencrypt email:", "") + row("Letsencrypt expiration:", "1800000000") +
				row("Letsencrypt global email:", "ops@shop.com") + row("Letsencrypt global graceperiod:", "11") + row("Letsencrypt global server:", "") +
				row("Letsencrypt graceperiod:", "") + row("Letsencrypt server:", "")},
		{Args: []string{"letsencrypt:report", "shop", "--letsencrypt-computed-email"}, Replies: replies, Ops: []string{"properties.report", "certs.info", "letsencrypt.cron-job"}, Stdout: "ops@shop.com\n"},
		{Args: []string{"letsencrypt:report", "shop", "--format", "json", "--letsencrypt-email"}, Code: 1, ErrLine: "--format flag cannot be specified when specifying an info flag"},
		{Args: []string{"letsencrypt:report", "--global"}, Replies: replies, Ops: []string{"properties.report"}, Reqs: map[string]string{"properties.report": `{"global":true,"namespace":"letsencrypt"}`},
			Stdout: "=====> global letsencrypt information\n" + grow("Letsencrypt global email:", "ops@shop.com") + grow("Letsencrypt global graceperiod:", "11") + grow("Letsencrypt global server:", "")},
		{Args: []string{"letsencrypt:report", "--global", "--format", "json"}, Replies: replies, Ops: []string{"properties.report"},
			Stdout: `{"global-email":"ops@shop.com","global-graceperiod":"11","global-server":""}` + "\n"},
		{Name: "every app, json: one object a line", Args: []string{"letsencrypt:report", "--format", "json"}, Replies: replies,
			Ops: []string{"apps.list", "properties.report", "certs.info", "letsencrypt.cron-job", "properties.report", "certs.info", "letsencrypt.cron-job"}, Stdout: all + "\n" + all + "\n"},
		{Name: "a key limited to apps: autorenew left empty", Args: []string{"letsencrypt:report", "shop", "--letsencrypt-autorenew"},
			Replies: map[string]reply{"properties.report": {Resp: props}, "certs.info": {Resp: api.CertInfo{}}, "letsencrypt.cron-job": {Err: &api.Error{Code: api.CodeForbidden, Message: "admin only"}}},
			Ops:     []string{"properties.report", "certs.info", "letsencrypt.cron-job"}, Stdout: "\n"},
	})
}
