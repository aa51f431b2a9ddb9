package servicecmd

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

// The data commands of services: export, import, clone and backups
// (docs/service-backups.md).
func init() {
	for _, kind := range []string{"postgres", "redis"} {
		format := map[string]string{"postgres": "pg_dump custom-format archive", "redis": "RDB snapshot"}[kind]
		cli.Register(
			&cli.Command{Name: kind + ":export", Args: "<name> > FILE", Short: "Write a dump of a " + kind + " service (" + format + ") to stdout", Run: serviceExport(kind)},
			&cli.Command{Name: kind + ":import", Args: "<name> < FILE", Short: "Replace a " + kind + " service's data with a dump read from stdin (a failed import changes nothing)", Run: serviceImport(kind)},
			&cli.Command{Name: kind + ":clone", Args: "<name> <new-name> [create flags]", Short: "Create a " + kind + " service with a copy of another's data",
				Values: []string{"image", "image-version", "password", "custom-env", "memory", "shm-size"}, Letters: map[string]string{"-i": "image", "-I": "image-version", "-p": "password", "-C": "custom-env", "-m": "memory", "-s": "shm-size"}, Run: serviceClone(kind)},
			&cli.Command{Name: kind + ":backup", Args: "<name> <dir|bucket-name> [--use-iam] [--keep N]", Short: "Write a backup of a " + kind + " service into a directory of the server or an S3 bucket (backup-auth)", Bools: []string{"use-iam"}, Values: []string{"keep"}, Run: serviceBackup(kind)},
			&cli.Command{Name: kind + ":backup-schedule", Args: scheduleArgs(kind), Short: "Back up a " + kind + " service on a cron schedule (\"0 3 * * *\", @daily), keeping the newest N (default 7, 0 all)" + verifyShort(kind), Values: []string{"keep"}, Bools: verifyFlag(kind), Run: serviceBackupSchedule(kind)},
			&cli.Command{Name: kind + ":backup-unschedule", Args: "<name>", Short: "Stop a " + kind + " service's scheduled backups", Run: serviceBackupUnschedule(kind)},
			&cli.Command{Name: kind + ":backup-schedule-cat", Args: "<name>", Short: "Show a " + kind + " service's backup schedule", Run: serviceBackupScheduleCat(kind)},
			&cli.Command{Name: kind + ":backup-list", Args: "<name> [<dir|bucket-name>] [--format json]", Short: "List a " + kind + " service's backups (in its scheduled directory by default)", Values: []string{"format"}, Run: serviceBackupList(kind)},
			&cli.Command{Name: kind + ":backup-restore", Args: "<name> <file> [--passphrase P | --identity-file FILE]", Short: "Replace a " + kind + " service's data with a backup (a name from backup-list, an absolute path or s3://BUCKET/NAME)", Values: []string{"passphrase", "identity-file"}, Run: serviceBackupRestore(kind)},
		)
	}
}

// dataRef reads the service name and checks the number of arguments.
func dataRef(c *cli.Ctx, kind string, min, max int, usage string) (api.ServiceRef, error) {
	if len(c.Args) == 0 {
		return api.ServiceRef{}, cli.Failf("Please specify a valid name for the service")
	}
	if len(c.Args) < min {
		return api.ServiceRef{}, cli.Failf("Usage: %s %s %s", c.Env.Prog, c.Cmd.Name, usage)
	}
	if err := c.NoExtraArgs(max); err != nil {
		return api.ServiceRef{}, err
	}
	return api.ServiceRef{Kind: kind, Name: c.Args[0]}, nil
}

func serviceExport(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 1, 1, "<name> > FILE")
		if err != nil {
			return err
		}
		if c.Terminal != nil {
			return cli.Failf("The dump is binary: redirect it to a file (%s %s %s > FILE)", c.Env.Prog, c.Cmd.Name, ref.Name)
		}
		// Only the dump goes to stdout.
		_, err = api.ServicesExport.Run(c, c.API, ref, &api.Session{Stdout: c.Stdout, Stderr: c.Stderr})
		return err
	}
}

func serviceImport(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 1, 1, "<name> < FILE")
		if err != nil {
			return err
		}
		if c.Terminal != nil {
			return cli.Failf("Give the dump on stdin (%s %s %s < FILE)", c.Env.Prog, c.Cmd.Name, ref.Name)
		}
		c.Info1("Importing data into %s service %s", kind, ref.Name)
		if _, err := api.ServicesImport.Run(c, c.API, ref, &api.Session{Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr}); err != nil {
			return err
		}
		c.Info1("Import into %s service %s complete", kind, ref.Name)
		return nil
	}
}

func serviceClone(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 2, 2, "<name> <new-name> [create flags]")
		if err != nil {
			return err
		}
		req := api.ServiceClone{ServiceRef: ref, New: api.ServiceCreate{ServiceRef: api.ServiceRef{Kind: kind, Name: c.Args[1]},
			Image: c.Flag("image", ""), ImageVersion: c.Flag("image-version", ""), Password: c.Flag("password", ""),
			CustomEnv: c.Flag("custom-env", ""), Memory: c.Flag("memory", ""), ShmSize: c.Flag("shm-size", "")}}
		c.Info1("Cloning %s service %s to %s", kind, ref.Name, req.New.Name)
		info, err := api.ServicesClone.Stream(c, c.API, req, c.Output())
		if err != nil {
			return err
		}
		c.Info1("Cloned %s to %s (%s)", ref.Name, info.Name, info.Image)
		c.Verbose("DSN: %s", info.DSN)
		return nil
	}
}

// humanSize is a byte count for people: 512 B, 1.5 KiB, 3.2 MiB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func serviceBackup(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 2, 2, "<name> <dir|bucket-name> [--use-iam] [--keep N]")
		if err != nil {
			return err
		}
		req := api.ServiceBackup{ServiceRef: ref, Dir: c.Args[1], UseIAM: c.Bool("use-iam")}
		if v := c.Flag("keep", ""); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return cli.Failf("--keep must be a number: 0 (keep all) or more")
			}
			req.Keep = &n
		}
		c.Info1("Backing up %s service %s to %s", kind, ref.Name, c.Args[1])
		f, err := api.ServicesBackup.Stream(c, c.API, req, c.Output())
		if err != nil {
			return err
		}
		c.Verbose("Wrote %s (%s)", f.Path, humanSize(f.Size))
		if f.Encrypted {
			c.Verbose("Encrypted with age")
		}
		if f.SHA256 != "" {
			c.Verbose("Verified after upload: sha256 %s", f.SHA256)
		}
		return nil
	}
}

func serviceBackupSchedule(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		// The schedule is one argument ("0 3 * * *"); its fields given as
		// separate words (lost quotes over ssh) are joined again.
		if len(c.Args) > 3 {
			c.Args = []string{c.Args[0], strings.Join(c.Args[1:len(c.Args)-1], " "), c.Args[len(c.Args)-1]}
		}
		ref, err := dataRef(c, kind, 3, 3, scheduleUsage(kind))
		if err != nil {
			return err
		}
		req := api.ServiceBackupSchedule{ServiceRef: ref, Schedule: c.Args[1], Dir: c.Args[2], Verify: kind == "postgres" && c.Bool("verify")}
		if v := c.Flag("keep", ""); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return cli.Failf("--keep must be a number: 0 (keep all) or more")
			}
			req.Keep = &n
		}
		res, err := api.ServicesBackupSchedule.Call(c, c.API, req)
		if err != nil {
			return err
		}
		c.Info1("Scheduled backups of %s service %s", kind, ref.Name)
		c.Verbose("%s", fmt.Sprintf("%-12s%s", "Schedule:", res.Schedule))
		c.Verbose("%s", fmt.Sprintf("%-12s%s", "Directory:", res.Dir))
		c.Verbose("%s", fmt.Sprintf("%-12s%s", "Keep:", keepText(res.Keep)))
		if res.Verify {
			c.Verbose("%s", fmt.Sprintf("%-12s%s", "Verify:", "a restore drill after each backup"))
		}
		return nil
	}
}

func keepText(n int) string {
	if n == 0 {
		return "all"
	}
	return fmt.Sprintf("newest %d", n)
}

func serviceBackupUnschedule(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 1, 1, "<name>")
		if err != nil {
			return err
		}
		res, err := api.ServicesBackupUnschedule.Call(c, c.API, ref)
		if err != nil {
			return err
		}
		if res.Removed {
			c.Info1("Unscheduled backups of %s service %s", kind, ref.Name)
		} else {
			c.Info1("%s service %s had no backup schedule", kind, ref.Name)
		}
		return nil
	}
}

func serviceBackupScheduleCat(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 1, 1, "<name>")
		if err != nil {
			return err
		}
		res, err := api.ServicesBackupScheduleCat.Call(c, c.API, ref)
		if err != nil {
			return err
		}
		// The arguments of backup-schedule that made it.
		line := fmt.Sprintf("%q %s --keep %d", res.Schedule, res.Dir, res.Keep)
		if res.Verify {
			line += " --verify"
		}
		c.Println(line)
		return nil
	}
}

func serviceBackupList(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 1, 2, "<name> [<dir>]")
		if err != nil {
			return err
		}
		req := api.ServiceBackupList{ServiceRef: ref}
		if len(c.Args) > 1 {
			req.Dir = c.Args[1]
		}
		res, err := api.ServicesBackupList.Call(c, c.API, req)
		if err != nil {
			return err
		}
		if done, err := c.PrintJSON(res); done || err != nil {
			return err
		}
		c.Info2("%s %s backups in %s", kind, ref.Name, res.Dir)
		if len(res.Files) == 0 {
			c.Verbose("(none)")
			return nil
		}
		width := 4
		for _, f := range res.Files {
			width = max(width, len(f.Name))
		}
		c.Println(fmt.Sprintf("%-*s  %10s  %s", width, "NAME", "SIZE", "TIME (UTC)"))
		for _, f := range res.Files {
			c.Println(fmt.Sprintf("%-*s  %10s  %s", width, f.Name, humanSize(f.Size), f.Time.UTC().Format("2006-01-02 15:04:05")))
		}
		return nil
	}
}

func serviceBackupRestore(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 2, 2, "<name> <file> [--passphrase P | --identity-file FILE]")
		if err != nil {
			return err
		}
		req := api.ServiceBackupRestore{ServiceRef: ref, File: c.Args[1]}
		if req.Passphrase, req.Identity, err = decryptionKey(c); err != nil {
			return err
		}
		if _, err := api.ServicesBackupRestore.Stream(c, c.API, req, c.Output()); err != nil {
			return err
		}
		c.Info1("Restored %s service %s from %s", kind, ref.Name, c.Args[1])
		return nil
	}
}

// decryptionKey reads what decrypts a backup: --passphrase, or the age
// identity in --identity-file (not both); neither: the service's own.
func decryptionKey(c *cli.Ctx) (passphrase, identity string, err error) {
	passphrase = c.Flag("passphrase", "")
	path := c.Flag("identity-file", "")
	if path == "" {
		return passphrase, "", nil
	}
	if passphrase != "" {
		return "", "", cli.Failf("Give --passphrase or --identity-file, not both")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", cli.Failf("Identity file: %v", err)
	}
	return "", string(data), nil
}
