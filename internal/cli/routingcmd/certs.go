package routingcmd

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "certs:add", Args: "<app> CRT KEY | <app> < tar with server.crt and server.key", Short: "Install a TLS certificate (full chain) and key for an app", App: cli.AppRequired, Run: certsAdd},
		&cli.Command{Name: "certs:update", Args: "<app> CRT KEY | <app> < tar", Short: "Replace an app's TLS certificate", App: cli.AppRequired, Run: certsAdd},
		&cli.Command{Name: "certs:generate", Args: "<app> [DOMAIN]", Short: "Install a self-signed certificate for DOMAIN and the app's domains", App: cli.AppRequired, Run: certsGenerate},
		&cli.Command{Name: "certs:remove", Args: "<app>", Short: "Remove an app's certificate (back to HTTP only)", App: cli.AppRequired, Run: certsRemove},
		&cli.Command{Name: "certs:show", Args: "<app> crt|key", Short: "Print an app's certificate or key (PEM)", App: cli.AppRequired, Run: certsShow},
		&cli.Command{Name: "certs:report", Args: "[<app>|--global] [<flag>] [--format json]", Short: "Display an app's certificate (--global: none, as Dokku's)", App: cli.AppRequired, Global: true, Values: []string{"format"}, InfoFlags: true, Run: certsReport},
		&cli.Command{Name: "redirect", Args: "<app> [--format json]", Short: "List an app's domain redirects", App: cli.AppRequired, Values: []string{"format"}, Run: redirectList},
		&cli.Command{Name: "redirect:set", Args: "<app> SRC DEST [301|302|303|307|308]", Short: "Redirect requests for SRC to DEST, keeping path and query (301 by default)", App: cli.AppRequired, Run: redirectSet},
		&cli.Command{Name: "redirect:unset", Args: "<app> SRC", Short: "Remove a redirect", App: cli.AppRequired, Run: redirectUnset},
	)
}

// certInput reads CRT and KEY files, or a tar of server.crt and server.key
// on stdin.
func certInput(c *cli.Ctx) (string, string, error) {
	if len(c.Args) == 2 {
		crt, err := c.ReadFileArg(c.Args[0], "a tar of server.crt and server.key: "+c.Cmd.Name+" APP < cert.tar")
		if c.Remote {
			return "", "", err
		}
		if err != nil {
			return "", "", cli.Failf("Cannot read the certificate: %v", err)
		}
		key, err := os.ReadFile(c.Args[1])
		if err != nil {
			return "", "", cli.Failf("Cannot read the key: %v", err)
		}
		return string(crt), string(key), nil
	}
	if len(c.Args) != 0 {
		return "", "", cli.Failf("Give CRT and KEY files, or a tar with server.crt and server.key on stdin")
	}
	data, err := io.ReadAll(io.LimitReader(c.Stdin, 10<<20))
	if err != nil {
		return "", "", cli.Failf("Cannot read stdin: %v", err)
	}
	var crt, key string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", "", cli.Failf("Give CRT and KEY files, or a tar with server.crt and server.key on stdin (%v)", err)
		}
		b, _ := io.ReadAll(io.LimitReader(tr, 1<<20))
		switch strings.TrimPrefix(h.Name, "./") {
		case "server.crt":
			crt = string(b)
		case "server.key":
			key = string(b)
		}
	}
	if crt == "" || key == "" {
		return "", "", cli.Failf("The tar must hold server.crt and server.key")
	}
	return crt, key, nil
}

func certsAdd(c *cli.Ctx) error {
	crt, key, err := certInput(c)
	if err != nil {
		return err
	}
	info, err := api.CertsAdd.Stream(c, c.API, api.CertAdd{App: c.App, CertPEM: crt, KeyPEM: key}, c.Output())
	if err != nil {
		return err
	}
	c.Info1("Added a certificate to %s for %s (expires %s)", c.App, strings.Join(info.Domains, " "), info.NotAfter.UTC().Format("2006-01-02"))
	return nil
}

func certsGenerate(c *cli.Ctx) error {
	domain := ""
	if len(c.Args) > 0 {
		domain = c.Args[0]
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	info, err := api.CertsGenerate.Call(c, c.API, api.CertGenerate{App: c.App, Domain: domain})
	if err != nil {
		return err
	}
	c.Info1("Installed a self-signed certificate for %s", strings.Join(info.Domains, " "))
	return nil
}

func certsRemove(c *cli.Ctx) error {
	if _, err := api.CertsRemove.Call(c, c.API, api.AppRef{App: c.App}); err != nil {
		return err
	}
	c.Info1("Removed the certificate of %s", c.App)
	return nil
}

func certsShow(c *cli.Ctx) error {
	// The app first (Dokku's order), then which part.
	info, err := api.CertsInfo.Call(c, c.API, api.CertShow{App: c.App, Key: len(c.Args) > 0 && c.Args[0] == "key"})
	if err != nil {
		return err
	}
	if len(c.Args) == 0 || (c.Args[0] != "crt" && c.Args[0] != "key") {
		return cli.Failf("Please specify either 'key' or 'crt': %s certs:show %s crt|key", c.Env.Prog, c.App)
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	if !info.Enabled {
		return cli.Failf("%s has no certificate", c.App)
	}
	if c.Args[0] == "key" {
		fmt.Fprint(c.Stdout, info.KeyPEM)
	} else {
		fmt.Fprint(c.Stdout, info.CertPEM)
	}
	return nil
}

func certsReport(c *cli.Ctx) error {
	if c.Global { // certificates are per app: Dokku's global ssl report is empty
		return c.Report("ssl", "global ssl information", nil)
	}
	info, err := api.CertsInfo.Call(c, c.API, api.CertShow{App: c.App})
	if err != nil {
		return err
	}
	date := func(t time.Time) string {
		if !info.Enabled {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	fields := []cli.Field{
		{Key: "enabled", Value: strconv.FormatBool(info.Enabled)},
		{Key: "source", Value: info.Source},
		{Key: "hostnames", Value: strings.Join(info.Hostnames, " ")},
		{Key: "issuer", Value: info.Issuer},
		{Key: "subject", Value: info.Subject},
		{Key: "starts-at", Value: date(info.NotBefore)},
		{Key: "expires-at", Value: date(info.NotAfter)},
		{Key: "verified", Value: strconv.FormatBool(info.Verified)},
	}
	return c.Report("ssl", c.App+" ssl information", fields)
}

func redirectList(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.RedirectsList.Call(c, c.API, api.AppRef{App: c.App})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(res.Redirects); done || err != nil {
		return err
	}
	if len(res.Redirects) == 0 {
		c.Warn("There are no redirects for %s", c.App)
		return nil
	}
	// dokku-redirect's table: `column -t`, two spaces between columns.
	rows := [][]string{{"SOURCE", "DESTINATION", "CODE"}}
	for _, r := range res.Redirects {
		rows = append(rows, []string{r.Src, r.Dest, strconv.Itoa(r.Code)})
	}
	w0, w1 := 0, 0
	for _, r := range rows {
		w0, w1 = max(w0, len(r[0])), max(w1, len(r[1]))
	}
	for _, r := range rows {
		c.Println(fmt.Sprintf("%-*s  %-*s  %s", w0, r[0], w1, r[1], r[2]))
	}
	return nil
}

// redirectSet sends what it has: the daemon checks the app before the
// arguments, as dokku-redirect does.
func redirectSet(c *cli.Ctx) error {
	if err := c.NoExtraArgs(3); err != nil {
		return err
	}
	req := api.RedirectSet{App: c.App}
	if len(c.Args) > 1 {
		req.Src, req.Dest = c.Args[0], c.Args[1]
	}
	if len(c.Args) == 3 {
		n, err := strconv.Atoi(c.Args[2])
		if err != nil {
			return cli.Failf("Invalid redirect code %q: use 301, 302, 303, 307 or 308", c.Args[2])
		}
		req.Code = n
	}
	if _, err := api.RedirectsSet.Call(c, c.API, req); err != nil {
		return err
	}
	c.Info1("Setting redirect for %s...", c.App)
	c.Verbose("%s -> %s", req.Src, req.Dest)
	return nil
}

func redirectUnset(c *cli.Ctx) error {
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	req := api.RedirectSet{App: c.App}
	if len(c.Args) == 1 {
		req.Src = c.Args[0]
	}
	if _, err := api.RedirectsUnset.Call(c, c.API, req); err != nil {
		return err
	}
	c.Info1("Unsetting redirect for %s...", c.App)
	c.Verbose("%s", req.Src)
	return nil
}
