// Package doctorcmd is `berth doctor`: it asks the daemon to check what the
// host and Berth depend on and prints each check, with a fix for each
// problem.
package doctorcmd

import (
	"fmt"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(&cli.Command{Name: "doctor", Args: "[--format json]",
		Short:  "Check the engine, ports, disks, DNS, certificates, backups, clock and OpenSSH mode; exit 1 on a problem",
		Values: []string{"format"}, Run: run})
}

func run(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	r, err := api.Doctor.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	if done, err := c.PrintJSON(r); err != nil || done {
		if err == nil && r.Problems() > 0 {
			err = cli.ExitCode(1)
		}
		return err
	}
	for _, ch := range r.Checks {
		mark := "ok     "
		switch {
		case !ch.OK:
			mark = "PROBLEM"
		case ch.Warning:
			mark = "WARNING"
		}
		c.Println(fmt.Sprintf("%s  %s: %s", mark, ch.Subject, ch.Message))
		if ch.Fix != "" {
			c.Println("         fix: " + ch.Fix)
		}
	}
	switch n := r.Problems(); n {
	case 0:
		c.Println(fmt.Sprintf("No problems found (%d checks).", len(r.Checks)))
		return nil
	case 1:
		c.Println("1 problem found.")
	default:
		c.Println(fmt.Sprintf("%d problems found.", n))
	}
	return cli.ExitCode(1)
}
