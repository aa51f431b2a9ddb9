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
	KeysAdd    = Op[KeyAdd, KeyInfo]{"keys.add"}
	KeysList   = Op[Empty, KeyList]{"keys.list"}
	KeysRemove = Op[KeyRef, KeyInfo]{"keys.remove"}
	KeysAccess = Op[KeyAccess, KeyInfo]{"keys.access"}

	GitPushPlan   = Op[PushPlan, PushDecision]{"git.push-plan"}
	GitPushDeploy = SessionOp[PushDeploy, DeployResult]{"git.push-deploy"}

	// SSHCommand runs a command for an OpenSSH forced-command session.
	SSHCommand = SessionOp[SSHSession, ExitStatus]{"ssh.command"}
)
