package servicecmd

import (
	"fmt"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

// Restore drills (docs/data-safety.md): postgres:backup-verify, and
// backup-schedule's --verify.
func init() {
	cli.Register(&cli.Command{Name: "postgres:backup-verify", Args: verifyArgs,
		Short:  "Restore a backup into a throw-away container and compare its row counts with those recorded at backup time (the newest backup by default); exit 1 when they differ",
		Values: []string{"passphrase", "identity-file"}, Run: serviceBackupVerify("postgres")})
}

const verifyArgs = "<name> [<file>] [--passphrase P | --identity-file FILE]"

// scheduleArgs is backup-schedule's usage: Dokku's, and --verify where
// drills exist.
func scheduleArgs(kind string) string {
	if kind == "postgres" {
		return "<name> <schedule> <dir|bucket-name> [--keep N] [--verify]"
	}
	return "<name> <schedule> <dir|bucket-name> [--keep N]"
}

func verifyShort(kind string) string {
	if kind == "postgres" {
		return "; --verify runs a restore drill after each"
	}
	return ""
}

func verifyFlag(kind string) []string {
	if kind == "postgres" {
		return []string{"verify"}
	}
	return nil
}

// lastDrill describes a service's latest restore drill.
func lastDrill(d *api.BackupDrill) string {
	if d == nil {
		return "-"
	}
	at := d.At.UTC().Format("2006-01-02 15:04:05 MST")
	if !d.OK {
		return "FAILED " + at + " " + d.File + ": " + d.Error
	}
	s := fmt.Sprintf("ok %s %s (%d tables, %d rows", at, d.File, d.Tables, d.Rows)
	if !d.Compared {
		s += ", no counts recorded to compare"
	}
	return s + ")"
}

func serviceBackupVerify(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 1, 2, verifyArgs)
		if err != nil {
			return err
		}
		req := api.ServiceBackupVerify{ServiceRef: ref}
		if len(c.Args) > 1 {
			req.File = c.Args[1]
		}
		if req.Passphrase, req.Identity, err = decryptionKey(c); err != nil {
			return err
		}
		// The daemon prints the table and the summary line; a drill that
		// did not pass is its error (one line, exit 1).
		_, err = api.ServicesBackupVerify.Stream(c, c.API, req, c.Output())
		return err
	}
}

// scheduleUsage is backup-schedule's usage line on a wrong call.
func scheduleUsage(kind string) string {
	if kind == "postgres" {
		return "<name> <schedule> <dir> [--keep N] [--verify]"
	}
	return "<name> <schedule> <dir> [--keep N]"
}
