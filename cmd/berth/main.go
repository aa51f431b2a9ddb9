// Command berth is Berth's daemon and CLI in one binary. Installed as
// `dokku` too, it behaves identically.
package main

import (
	"context"
	"os"

	"github.com/berthpaas/berth/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args, cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Terminal: cli.OSTerminal()}))
}
