package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/gitserver/hook"
)

func init() {
	Register(
		&Command{Name: "ssh-keys:add", Args: "[--apps APP[,APP...]] <name> [FILE|-]", Short: "Add an ssh public key (admin, or limited to --apps); prints its fingerprint", Values: []string{"apps"}, Run: keysAdd},
		&Command{Name: "ssh-keys:list", Args: "[<name>] [--format stdout|text|json]", Short: "List ssh keys (or those of one name) and what each may touch", Values: []string{"format"}, CustomFormat: true, Run: keysList},
		&Command{Name: "ssh-keys:remove", Args: "(<name>|--fingerprint FP)", Short: "Remove an ssh key", Values: []string{"fingerprint"}, Run: keysRemove},
		&Command{Name: "ssh-keys:report", Args: "[<flag>] [--format json]", Short: "Show which ssh entry points are live: built-in server, OpenSSH mode, gateway socket", Values: []string{"format"}, InfoFlags: true, Run: keysReport},
		&Command{Name: "ssh-keys:access", Args: "<name> (admin|APP[,APP...])", Short: "Change what a key may touch: every app (admin) or the named apps", Run: keysAccess},
		&Command{Name: "git:set", Args: "(<app>|--global) <key> [<value>]", Short: "Set or clear a git setting (deploy-branch, keep-git-dir, rev-env-var, source-image, archive-max-files, archive-max-size)", App: AppRequired, Global: true, Run: gitSet},
		&Command{Name: "git:report", Args: "(<app>|--global) [<flag>] [--format json]", Short: "Display an app's git settings", App: AppRequired, Global: true, Values: []string{"format"}, InfoFlags: true, Run: gitReport},
		&Command{Name: "git-hook", Short: "Git's pre-receive hook (run by git, not by hand)", Local: true, LocalOnly: true, Hidden: true, Run: gitHook},
	)
}

func keysAdd(c *Ctx) error {
	if len(c.Args) == 0 {
		return Failf("Please specify a name for the key")
	}
	if err := c.NoExtraArgs(2); err != nil {
		return err
	}
	var data []byte
	var err error
	switch {
	case len(c.Args) == 1 || c.Args[1] == "-":
		data, err = io.ReadAll(io.LimitReader(c.Stdin, 1<<20))
	default:
		if data, err = c.ReadFileArg(c.Args[1], "ssh-keys:add NAME < KEY.pub"); c.Remote {
			return err
		}
	}
	if err != nil {
		return Failf("Cannot read the key: %v", err)
	}
	var apps []string
	if v := c.Flag("apps", ""); v != "" {
		apps = strings.Split(v, ",")
	}
	k, err := api.KeysAdd.Call(c, c.API, api.KeyAdd{Name: c.Args[0], PublicKey: string(data), Apps: apps})
	if err != nil {
		return err
	}
	c.Println(k.Fingerprint)
	return nil
}

// keysList lists the keys, or those named NAME (Dokku's ssh-keys:list
// NAME: none of that name exits 1 printing nothing, except as JSON, an
// empty list).
// --format text is stdout's other name.
func keysList(c *Ctx) error {
	format := c.Flag("format", "stdout")
	if format != "stdout" && format != "text" && format != "json" {
		return Failf("Invalid format: %s; use stdout, text or json", format)
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	res, err := api.KeysList.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	if len(c.Args) == 1 {
		res.Keys = slices.DeleteFunc(res.Keys, func(k api.KeyInfo) bool { return k.Name != c.Args[0] })
	}
	if format == "json" {
		if res.Keys == nil {
			res.Keys = []api.KeyInfo{}
		}
		return c.printJSONValue(res.Keys)
	}
	if len(res.Keys) == 0 && len(c.Args) == 1 {
		// Like grep (and Dokku's sshcommand): no line, exit 1, so that
		// `ssh-keys:list NAME | wc -l` counts 0.
		return ExitCode(1)
	}
	if len(res.Keys) == 0 {
		c.Warn("No public keys found.")
		return nil
	}
	for _, k := range res.Keys {
		access := "admin"
		if !k.Admin {
			access = "apps:" + strings.Join(k.Apps, ",")
		}
		c.Println(fmt.Sprintf("%s NAME=%q ACCESS=%q", k.Fingerprint, k.Name, access))
	}
	return nil
}

func keysRemove(c *Ctx) error {
	ref := api.KeyRef{Fingerprint: c.Flag("fingerprint", "")}
	if len(c.Args) > 0 {
		ref.Name = c.Args[0]
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	k, err := api.KeysRemove.Call(c, c.API, ref)
	if errors.Is(err, api.ErrNotFound) {
		// Removing a key that is gone is done, as in Dokku: scripts remove
		// a key before adding it again. Said, not hidden.
		c.Warn("%s; nothing to remove", strings.TrimSuffix(err.Error(), "; see ssh-keys:list"))
		return nil
	}
	if err != nil {
		return err
	}
	c.Info1("Removed key %s (%s)", k.Name, k.Fingerprint)
	return nil
}

func keysAccess(c *Ctx) error {
	if len(c.Args) != 2 {
		return Failf("Usage: %s ssh-keys:access NAME (admin|APP[,APP...])", c.Env.Prog)
	}
	req := api.KeyAccess{Name: c.Args[0], Admin: c.Args[1] == "admin"}
	if !req.Admin {
		req.Apps = strings.Split(c.Args[1], ",")
	}
	k, err := api.KeysAccess.Call(c, c.API, req)
	if err != nil {
		return err
	}
	if k.Admin {
		c.Info1("Key %s may now touch every app", k.Name)
	} else {
		c.Info1("Key %s may now touch %s", k.Name, strings.Join(k.Apps, ", "))
	}
	return nil
}

// keysReport shows the ssh entry points: Berth's own server, OpenSSH mode
// (port 22 through the host's sshd) and the gateway socket between them.
func keysReport(c *Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	r, err := api.KeysReport.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	if c.InfoFlag == "" {
		if done, err := c.PrintJSON(r); done || err != nil {
			return err
		}
	}
	o := r.OpenSSH
	builtin := r.BuiltinServer
	if builtin == "" {
		builtin = "off (BERTH_SSH_ADDR)"
	}
	mode := "off (BERTH_OPENSSH=off)"
	switch {
	case o.Active:
		mode = "on (sshd " + o.SSHD + ")"
	case o.Mode != "off":
		mode = "off: sshd is not installed (it turns on when it is)"
	}
	var users []string
	for _, u := range o.Users {
		state := "ok"
		switch {
		case !u.Exists:
			state = "missing"
		case !u.OK:
			state = "not ok"
		}
		users = append(users, u.Name+" "+state)
	}
	if len(users) == 0 {
		users = []string{"not kept (OpenSSH mode is off)"}
	}
	keys := "none"
	if o.AuthorizedKeys != "" {
		step := "in step"
		if !o.InStep {
			step = "NOT in step"
		}
		keys = fmt.Sprintf("%s: %s, %d keys", o.AuthorizedKeys, step, o.KeysListed)
	}
	gw := r.Gateway.Path + " (root only)"
	switch {
	case r.Gateway.Mode == "":
		gw = r.Gateway.Path + " (missing)"
	case r.Gateway.Group != "":
		gw = fmt.Sprintf("%s (group %s, %s)", r.Gateway.Path, r.Gateway.Group, r.Gateway.Mode)
	}
	problems := "none"
	if len(o.Problems) > 0 {
		problems = strings.Join(o.Problems, "; ")
	}
	fields := []Field{
		{"builtin-server", builtin},
		{"keys", fmt.Sprint(r.Keys)},
		{"openssh-mode", mode},
		{"openssh-users", strings.Join(users, ", ")},
		{"authorized-keys", keys},
		{"gateway-socket", gw},
		{"problems", problems},
	}
	return c.Report("ssh-keys", "Berth ssh entry points", fields)
}

// gitReport is Dokku's git:report: the lines each git setting declares
// (the generic settings report: raw, computed and global values; with
// --global only the computed and global ones), with --git-rev-env-var
// showing the variable a push sets (GIT_REV unless set), as Dokku's does.
func gitReport(c *Ctx) error {
	res, err := api.PropertiesReport.Call(c, c.API, api.PropertyReport{Scope: api.Scope{App: c.App, Global: c.Global}, Namespace: "git"})
	if err != nil {
		return err
	}
	fields := SettingFields(res)
	for i, f := range fields {
		if f.Key == "rev-env-var" {
			fields[i].Value = res.Computed["rev-env-var"]
		}
	}
	return c.Report("git", c.ReportSubject()+" git information", fields)
}

// gitSet is git:set: PropertySetter's, but rev-env-var with no value is
// kept set to nothing (no variable is set on push), as in Dokku, rather
// than going back to GIT_REV.
func gitSet(c *Ctx) error {
	if len(c.Args) >= 1 && c.Args[0] == "rev-env-var" && (len(c.Args) == 1 || c.Args[1] == "") && !c.Global {
		if _, err := api.PropertiesSet.Call(c, c.API, api.PropertyChange{Scope: api.Scope{App: c.App}, Namespace: "git", Key: "rev-env-var", Value: ""}); err != nil {
			return err
		}
		c.Info2("Unsetting rev-env-var")
		return nil
	}
	return PropertySetter("git")(c)
}

// gitHook is git's pre-receive hook in an app's repository (package
// gitserver/hook).
func gitHook(c *Ctx) error {
	return hook.Run(c, hook.Env{Stdin: c.Stdin, Stdout: c.Stdout, Getenv: c.Getenv, Warn: c.Warn})
}

// printJSONValue prints v as one line of JSON.
func (c *Ctx) printJSONValue(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Println(string(b))
	return nil
}
