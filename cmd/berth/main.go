// Command berth is Berth's daemon and CLI in one binary. Installed as
// `dokku` too, it behaves identically.
//
// The command table (package cli) is the client: it does not import the
// daemon or the proxy. main hands it the two long-running processes this
// binary also is, `berth serve` and `berth serve-proxy`.
package main

import (
	"context"
	"os"

	"github.com/berthpaas/berth/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args, cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Terminal: cli.OSTerminal(),
		Serve: serve, Proxy: runProxy,
	}))
}
