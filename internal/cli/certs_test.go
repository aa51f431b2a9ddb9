package cli

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
	enabled := api.CertInfo{App: "shop", Enabled: true, Source: "manual", Domains: []string{"shop.com"}, Issuer: "CN=shop CA", Subject: "CN=shop.com",
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Verified: true, CertPEM: "CRT PEM\n", KeyPEM: "KEY PEM\n"}
	certInfo := map[string]reply{"certs.info": {Resp: enabled}}
	noCert := map[string]reply{"certs.info": {Resp: api.CertInfo{App: "shop", NotAfter: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	runCases(t, []cliCase{
		{name: "add files", args: []string{"certs:add", "shop", crt, key}, replies: added, ops: []string{"certs.add"},
			reqs: map[string]string{"certs.add": `{"app":"shop","cert_pem":"CRT PEM\n","key_pem":"KEY PEM\n"}`}, stdout: addedOut},
		{name: "add tar", args: []string{"certs:add", "shop"}, stdin: tarOf(t, [2]string{"./server.crt", "C"}, [2]string{"README", "x"}, [2]string{"server.key", "K"}),
			replies: added, ops: []string{"certs.add"}, reqs: map[string]string{"certs.add": `{"app":"shop","cert_pem":"C","key_pem":"K"}`}, stdout: addedOut},
		{name: "update tar", args: []string{"certs:update", "shop"}, stdin: tarOf(t, [2]string{"server.crt", "C"}, [2]string{"server.key", "K"}),
			replies: added, ops: []string{"certs.add"}, stdout: addedOut},
		{name: "tar without key", args: []string{"certs:add", "shop"}, stdin: tarOf(t, [2]string{"server.crt", "C"}), code: 1, errLine: "The tar must hold server.crt and server.key"},
		{name: "nothing on stdin", args: []string{"certs:add", "shop"}, code: 1, errLine: "The tar must hold server.crt and server.key"},
		{name: "not a tar", args: []string{"certs:add", "shop"}, stdin: strings.Repeat("not a tar ", 100), code: 1, errLine: "Give CRT and KEY files, or a tar with server.crt and server.key on stdin ("},
		{name: "one file", args: []string{"certs:add", "shop", crt}, code: 1, errLine: "Give CRT and KEY files, or a tar with server.crt and server.key on stdin"},
		{name: "missing cert file", args: []string{"certs:add", "shop", filepath.Join(dir, "none"), key}, code: 1, errLine: "Cannot read the certificate:"},
		{name: "missing key file", args: []string{"certs:add", "shop", crt, filepath.Join(dir, "none")}, code: 1, errLine: "Cannot read the key:"},
		{name: "key does not match", args: []string{"certs:add", "shop", crt, key}, replies: map[string]reply{"certs.add": {Err: api.Errorf(api.CodeInvalid, "The key does not match the certificate")}},
			code: 1, ops: []string{"certs.add"}, errLine: "The key does not match the certificate"},

		{args: []string{"certs:generate", "shop", "www.shop.com"}, replies: map[string]reply{"certs.generate": {Resp: api.CertInfo{Domains: []string{"www.shop.com", "shop.com"}}}},
			ops: []string{"certs.generate"}, reqs: map[string]string{"certs.generate": `{"app":"shop","domain":"www.shop.com"}`},
			stdout: "-----> Installed a self-signed certificate for www.shop.com shop.com\n"},
		{args: []string{"certs:generate", "shop"}, replies: map[string]reply{"certs.generate": {Resp: api.CertInfo{Domains: []string{"shop.com"}}}},
			ops: []string{"certs.generate"}, reqs: map[string]string{"certs.generate": `{"app":"shop","domain":""}`}, stdout: "-----> Installed a self-signed certificate for shop.com\n"},
		{args: []string{"certs:generate", "shop", "a.com", "b.com"}, code: 1, errLine: "Unexpected argument(s): b.com"},
		{args: []string{"certs:remove", "shop"}, replies: map[string]reply{"certs.remove": {}}, ops: []string{"certs.remove"},
			reqs: map[string]string{"certs.remove": `{"app":"shop"}`}, stdout: "-----> Removed the certificate of shop\n"},

		{args: []string{"certs:show", "shop", "crt"}, replies: certInfo, ops: []string{"certs.info"}, reqs: map[string]string{"certs.info": `{"app":"shop"}`}, stdout: "CRT PEM\n"},
		{args: []string{"certs:show", "shop", "key"}, replies: certInfo, ops: []string{"certs.info"}, reqs: map[string]string{"certs.info": `{"app":"shop","key":true}`}, stdout: "KEY PEM\n"},
		{name: "show without a cert", args: []string{"certs:show", "shop", "crt"}, replies: noCert, code: 1, ops: []string{"certs.info"}, errLine: "shop has no certificate"},
		{args: []string{"certs:show", "shop", "pem"}, code: 1, errLine: "Usage: berth certs:show APP crt|key"},
		{args: []string{"certs:show", "shop"}, code: 1, errLine: "Usage: berth certs:show APP crt|key"},

		{args: []string{"certs:report", "shop", "--ssl-expires-at"}, replies: certInfo, ops: []string{"certs.info"}, stdout: "2027-01-01T00:00:00Z\n"},
		{args: []string{"certs:report", "shop", "--ssl-hostnames"}, replies: certInfo, ops: []string{"certs.info"}, stdout: "shop.com\n"},
		{name: "no dates without a cert", args: []string{"certs:report", "shop", "--ssl-expires-at"}, replies: noCert, ops: []string{"certs.info"}, stdout: "\n"},
		{args: []string{"certs:report", "shop", "--format", "json"}, replies: certInfo, ops: []string{"certs.info"},
			stdout: `{"enabled":"true","expires-at":"2027-01-01T00:00:00Z","hostnames":"shop.com","issuer":"CN=shop CA","source":"manual","starts-at":"2026-01-01T00:00:00Z","subject":"CN=shop.com","verified":"true"}` + "\n"},
		{args: []string{"certs:report", "shop"}, replies: certInfo, ops: []string{"certs.info"},
			has: []string{"=====> shop ssl information\n", sp(7) + "Ssl enabled:" + sp(19) + "true\n", sp(7) + "Ssl verified:" + sp(18) + "true\n"}},
		{args: []string{"certs:report", "gone"}, replies: map[string]reply{"certs.info": {Err: api.AppNotFound("gone")}}, code: 20, ops: []string{"certs.info"}, errLine: "App gone does not exist"},
	})
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	list := map[string]reply{"redirects.list": {Resp: api.RedirectList{Redirects: []api.RedirectInfo{{Src: "old.com", Dest: "new.com", Code: 301}}}}}
	runCases(t, []cliCase{
		{args: []string{"redirect", "shop"}, replies: list, ops: []string{"redirects.list"}, reqs: map[string]string{"redirects.list": `{"app":"shop"}`},
			stdout: "SOURCE" + sp(25) + "DESTINATION" + sp(20) + "CODE\n" + "old.com" + sp(24) + "new.com" + sp(24) + "301\n"},
		{args: []string{"redirect", "shop", "--format", "json"}, replies: list, ops: []string{"redirects.list"}, stdout: `[{"src":"old.com","dest":"new.com","code":301}]` + "\n"},
		{name: "no redirects", args: []string{"redirect", "shop"}, replies: map[string]reply{"redirects.list": {Resp: api.RedirectList{}}}, ops: []string{"redirects.list"},
			stdout: "-----> No redirects set for shop\n"},
		{args: []string{"redirect:set", "shop", "old.com", "new.com"}, replies: map[string]reply{"redirects.set": {}}, ops: []string{"redirects.set"},
			reqs: map[string]string{"redirects.set": `{"app":"shop","src":"old.com","dest":"new.com"}`}, stdout: "-----> Setting redirect for old.com to new.com\n"},
		{args: []string{"redirect:set", "shop", "old.com", "new.com", "302"}, replies: map[string]reply{"redirects.set": {}}, ops: []string{"redirects.set"},
			reqs: map[string]string{"redirects.set": `{"app":"shop","src":"old.com","dest":"new.com","code":302}`}, stdout: "-----> Setting redirect for old.com to new.com\n"},
		{args: []string{"redirect:set", "shop", "old.com", "new.com", "moved"}, code: 1, errLine: `Invalid redirect code "moved": use 301, 302, 303, 307 or 308`},
		{args: []string{"redirect:set", "shop", "old.com"}, code: 1, errLine: "Please provide a source domain and a destination"},
		{args: []string{"redirect:set", "shop", "a", "b", "301", "x"}, code: 1, errLine: "Unexpected argument(s): x"},
		{name: "daemon refuses the code", args: []string{"redirect:set", "shop", "a.com", "b.com", "200"}, replies: map[string]reply{"redirects.set": {Err: api.Errorf(api.CodeInvalid, "Invalid redirect code 200")}},
			code: 1, ops: []string{"redirects.set"}, errLine: "Invalid redirect code 200"},
		{args: []string{"redirect:unset", "shop", "old.com"}, replies: map[string]reply{"redirects.unset": {}}, ops: []string{"redirects.unset"},
			reqs: map[string]string{"redirects.unset": `{"app":"shop","src":"old.com","dest":""}`}, stdout: "-----> Unsetting redirect for old.com\n"},
		{args: []string{"redirect:unset", "shop"}, code: 1, errLine: "Please provide a source domain"},
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
		{args: []string{"letsencrypt:enable", "shop"}, replies: map[string]reply{"letsencrypt.enable": {Stdout: "-----> Getting a certificate\n"}}, ops: []string{"letsencrypt.enable"},
			reqs: map[string]string{"letsencrypt.enable": `{"app":"shop"}`}, stdout: "-----> Getting a certificate\n"},
		{args: []string{"letsencrypt", "shop"}, replies: map[string]reply{"letsencrypt.enable": {}}, ops: []string{"letsencrypt.enable"}, reqs: map[string]string{"letsencrypt.enable": `{"app":"shop"}`}},
		{args: []string{"letsencrypt:enable", "--all"}, replies: map[string]reply{"letsencrypt.enable": {}}, ops: []string{"letsencrypt.enable"}, reqs: map[string]string{"letsencrypt.enable": `{"all":true}`}},
		{args: []string{"letsencrypt:enable"}, code: 1, errLine: "Please specify an app to run the command on, or --all"},
		{name: "enable without an email", args: []string{"letsencrypt:enable", "shop"}, replies: map[string]reply{"letsencrypt.enable": {Err: api.Errorf(api.CodeInvalid, "Set an email first")}},
			code: 1, ops: []string{"letsencrypt.enable"}, errLine: "Set an email first"},
		{args: []string{"letsencrypt:disable", "shop"}, replies: map[string]reply{"letsencrypt.disable": {}}, ops: []string{"letsencrypt.disable"},
			reqs: map[string]string{"letsencrypt.disable": `{"app":"shop"}`}, stdout: "-----> Disabled Let's Encrypt for shop\n"},
		{name: "active", args: []string{"letsencrypt:active", "shop"}, replies: info(true, "letsencrypt"), ops: []string{"certs.info"}, stdout: "true\n"},
		{name: "active manual cert", args: []string{"letsencrypt:active", "shop"}, replies: info(true, "manual"), ops: []string{"certs.info"}, stdout: "false\n"},
		{name: "active no cert", args: []string{"letsencrypt:active", "shop"}, replies: info(false, "letsencrypt"), ops: []string{"certs.info"}, stdout: "false\n"},
		{args: []string{"letsencrypt:list"}, replies: list, ops: []string{"letsencrypt.list"},
			has: []string{"-----> App name", "Certificate Expiry", "shop" + sp(17) + "shop.com,www.shop.com" + sp(20), "2027-02-01 00:00:00  rate limited\n",
				"blog" + sp(17) + sp(41) + "-" + sp(20) + "-" + sp(14) + "-"}},
		{args: []string{"letsencrypt:list", "--format", "json"}, replies: list, ops: []string{"letsencrypt.list"},
			has: []string{`"app":"shop"`, `"domains":["shop.com","www.shop.com"]`, `"last_error":"rate limited"`}},
		{args: []string{"letsencrypt:auto-renew"}, replies: map[string]reply{"letsencrypt.auto-renew": {}}, ops: []string{"letsencrypt.auto-renew"},
			reqs: map[string]string{"letsencrypt.auto-renew": `{"app":""}`}, stdout: "-----> Renewed the certificates that were due\n"},
		{args: []string{"letsencrypt:auto-renew", "shop"}, replies: map[string]reply{"letsencrypt.auto-renew": {}}, ops: []string{"letsencrypt.auto-renew"},
			reqs: map[string]string{"letsencrypt.auto-renew": `{"app":"shop"}`}, stdout: "-----> Renewed the certificates that were due\n"},
		{args: []string{"letsencrypt:cron-job", "--add"}, replies: map[string]reply{"letsencrypt.cron-job": {Resp: api.CronStatus{Enabled: true}}}, ops: []string{"letsencrypt.cron-job"},
			reqs: map[string]string{"letsencrypt.cron-job": `{"add":true}`}, stdout: "-----> Automatic renewal is on: Berth renews certificates itself (no cron job is needed)\n"},
		{args: []string{"letsencrypt:cron-job", "--remove"}, replies: map[string]reply{"letsencrypt.cron-job": {Resp: api.CronStatus{}}}, ops: []string{"letsencrypt.cron-job"},
			reqs: map[string]string{"letsencrypt.cron-job": `{"add":false}`}, stdout: "-----> Automatic renewal is off\n"},
		{args: []string{"letsencrypt:cron-job"}, code: 1, errLine: "Give --add or --remove"},
		{args: []string{"letsencrypt:cron-job", "--add", "--remove"}, code: 1, errLine: "Give --add or --remove"},
		{args: []string{"letsencrypt:revoke", "shop"}, replies: map[string]reply{"letsencrypt.revoke": {}}, ops: []string{"letsencrypt.revoke"},
			reqs: map[string]string{"letsencrypt.revoke": `{"app":"shop"}`}, stdout: "-----> Revoked the certificate of shop\n"},
		{args: []string{"letsencrypt:report", "shop", "--letsencrypt-computed-email"},
			replies: map[string]reply{"properties.report": {Resp: api.PropertyValues{App: map[string]string{"email": ""}, Global: map[string]string{"email": "ops@shop.com"}, Computed: map[string]string{"email": "ops@shop.com"}}}},
			ops:     []string{"properties.report"}, reqs: map[string]string{"properties.report": `{"app":"shop","namespace":"letsencrypt"}`}, stdout: "ops@shop.com\n"},
	})
}
