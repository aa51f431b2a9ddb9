package api

import "time"

// KeyInfo describes a registered ssh key.
type KeyInfo struct {
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Admin       bool      `json:"admin"`
	Apps        []string  `json:"apps"`
	CreatedAt   time.Time `json:"created_at"`
}

// KeyAdd registers a public key (one authorized_keys line).
type KeyAdd struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	// Apps limits the key to these apps; empty means admin.
	Apps []string `json:"apps,omitempty"`
}

// KeyRef names a key by name or fingerprint.
type KeyRef struct {
	Name        string `json:"name,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// KeyAccess changes what a key may touch.
type KeyAccess struct {
	Name  string   `json:"name"`
	Admin bool     `json:"admin"`
	Apps  []string `json:"apps,omitempty"`
}

// KeyList lists keys.
type KeyList struct {
	Keys []KeyInfo `json:"keys"`
}

// SSHReport says which ssh entry points are live (ssh-keys:report).
type SSHReport struct {
	// BuiltinServer is where the built-in ssh server listens; "" when off.
	BuiltinServer string `json:"builtin_server"`
	// Keys is how many keys are registered.
	Keys    int           `json:"keys"`
	OpenSSH OpenSSHReport `json:"openssh"`
	Gateway GatewayReport `json:"gateway_socket"`
}

// OpenSSHReport is the state of OpenSSH mode.
type OpenSSHReport struct {
	Mode   string `json:"mode"`   // the BERTH_OPENSSH setting: auto or off
	Active bool   `json:"active"` // Berth keeps the users and authorized_keys
	SSHD   string `json:"sshd"`   // the sshd binary; "" when not installed
	Group  string `json:"group"`
	// AuthorizedKeys is the file Berth writes; "" when none.
	AuthorizedKeys string `json:"authorized_keys"`
	// KeysListed is how many keys the file lists; InStep says whether it
	// holds exactly the registered keys with Berth's forced command.
	KeysListed int             `json:"keys_listed"`
	InStep     bool            `json:"in_step"`
	Users      []SSHUserReport `json:"users"`
	Problems   []string        `json:"problems"`
}

// SSHUserReport is one system user of OpenSSH mode.
type SSHUserReport struct {
	Name   string `json:"name"`
	Exists bool   `json:"exists"`
	Home   string `json:"home,omitempty"`
	// OK: sshd can log the user in with Berth's keys (its authorized_keys
	// is Berth's file, it may use the gateway socket, it has a shell).
	OK bool `json:"ok"`
}

// GatewayReport is the socket OpenSSH's forced commands reach the daemon through.
type GatewayReport struct {
	Path  string `json:"path"`
	Group string `json:"group"` // "" when root-only
	Mode  string `json:"mode"`  // e.g. 0660
}

// GitRef is one updated ref of a push: old and new revisions.
type GitRef struct {
	Old  string `json:"old"`
	New  string `json:"new"`
	Name string `json:"name"` // refs/heads/main
}

// PushPlan asks what a push of refs should do.
type PushPlan struct {
	App  string   `json:"app"`
	Key  string   `json:"key,omitempty"`
	Refs []GitRef `json:"refs"`
}

// PushDecision says which ref to deploy (none when Deploy is empty) and what
// to tell the pusher.
type PushDecision struct {
	Deploy     *GitRef  `json:"deploy,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	KeepGitDir bool     `json:"keep_git_dir,omitempty"`
	// Previews are pushed branches deployed as preview apps
	// (previews.deploy); PreviewRemovals are deleted branches whose
	// preview apps go (previews.destroy). See docs/previews.md.
	Previews        []GitRef `json:"previews,omitempty"`
	PreviewRemovals []GitRef `json:"preview_removals,omitempty"`
}

// PushDeploy deploys a pushed revision; the session's stdin is a tar of the
// tree at that revision.
type PushDeploy struct {
	App string `json:"app"`
	Key string `json:"key,omitempty"`
	Ref string `json:"ref"`
	Rev string `json:"rev"`
}

// SSHSession is a command that arrived over OpenSSH (forced command) for the
// daemon to run as the key's holder.
type SSHSession struct {
	Key     string `json:"key"`
	User    string `json:"user"`
	Command string `json:"command"`
	TTY     bool   `json:"tty,omitempty"`
	Height  uint   `json:"height,omitempty"`
	Width   uint   `json:"width,omitempty"`
}

// ExitStatus is the exit code of a remote command.
type ExitStatus struct {
	Code int `json:"code"`
}

// Key and git operations.
var (
	KeysAdd    = Op[KeyAdd, KeyInfo]{"keys.add", AdminOnly}
	KeysList   = Op[Empty, KeyList]{"keys.list", AdminOnly}
	KeysRemove = Op[KeyRef, KeyInfo]{"keys.remove", AdminOnly}
	KeysAccess = Op[KeyAccess, KeyInfo]{"keys.access", AdminOnly}
	KeysReport = Op[Empty, SSHReport]{"keys.report", AdminOnly}

	GitPushPlan   = Op[PushPlan, PushDecision]{"git.push-plan", AdminOnly}
	GitPushDeploy = SessionOp[PushDeploy, DeployResult]{"git.push-deploy", AdminOnly}

	// SSHCommand runs a command for an OpenSSH forced-command session.
	SSHCommand = SessionOp[SSHSession, ExitStatus]{"ssh.command", AdminOnly}
)
