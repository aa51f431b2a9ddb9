package api

import (
	"context"
	"io"
)

// RemotePTY is the terminal of a remote session (ssh -t).
type RemotePTY struct {
	Height, Width uint
	Resize        <-chan [2]uint
}

// RemoteEnv is what a command that arrived over ssh runs with.
type RemoteEnv struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Prog           string // "berth" or "dokku", after the ssh user
	// Caller calls operations as the key's holder (access checked).
	Caller Caller
	PTY    *RemotePTY // nil without ssh -t
}

// CommandRunner runs one command line of the command table and returns its
// exit status. The CLI provides it (cli.RunRemote) and the ssh front doors
// (package gitserver) call it, so neither imports the other.
type CommandRunner func(ctx context.Context, args []string, env RemoteEnv) int
