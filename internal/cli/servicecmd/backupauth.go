package servicecmd

import (
	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

// Off-site backup credentials and backup encryption, with Dokku's names and
// argument order (docs/data-safety.md).
func init() {
	for _, kind := range []string{"postgres", "redis"} {
		cli.Register(
			&cli.Command{Name: kind + ":backup-auth", Args: "<name> <aws-access-key-id> <aws-secret-access-key> [<aws-default-region>] [<aws-signature-version>] [<endpoint-url>]",
				Short: "Set the S3 credentials (and endpoint) a " + kind + " service's backups to a bucket use", Run: serviceBackupAuth(kind)},
			&cli.Command{Name: kind + ":backup-deauth", Args: "<name>", Short: "Remove a " + kind + " service's S3 backup credentials", Run: serviceBackupDeauth(kind)},
			&cli.Command{Name: kind + ":backup-set-encryption", Args: "<name> <passphrase> | <name> --recipient age1... [--recipient ...]",
				Short: "Encrypt a " + kind + " service's backups with age (a passphrase, or age public keys)", Multi: []string{"recipient"}, Run: serviceBackupSetEncryption(kind)},
			&cli.Command{Name: kind + ":backup-unset-encryption", Args: "<name>", Short: "Stop encrypting a " + kind + " service's backups", Run: serviceBackupUnsetEncryption(kind)},
		)
	}
}

func serviceBackupAuth(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		usage := "<name> <aws-access-key-id> <aws-secret-access-key> [<aws-default-region>] [<aws-signature-version>] [<endpoint-url>]"
		ref, err := dataRef(c, kind, 3, 6, usage)
		if err != nil {
			return err
		}
		arg := func(i int) string {
			if i < len(c.Args) {
				return c.Args[i]
			}
			return ""
		}
		req := api.ServiceBackupAuth{ServiceRef: ref, AccessKeyID: arg(1), SecretAccessKey: arg(2), Region: arg(3), SignatureVersion: arg(4), EndpointURL: arg(5)}
		if _, err := api.ServicesBackupAuth.Call(c, c.API, req); err != nil {
			return err
		}
		c.Info1("Backup credentials set for %s service %s", kind, ref.Name)
		return nil
	}
}

func serviceBackupDeauth(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 1, 1, "<name>")
		if err != nil {
			return err
		}
		res, err := api.ServicesBackupDeauth.Call(c, c.API, ref)
		if err != nil {
			return err
		}
		if res.Changed {
			c.Info1("Backup credentials removed from %s service %s", kind, ref.Name)
		} else {
			c.Info1("%s service %s had no backup credentials", kind, ref.Name)
		}
		return nil
	}
}

func serviceBackupSetEncryption(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		usage := "<name> <passphrase> | <name> --recipient age1... [--recipient ...]"
		recipients := c.Multi("recipient")
		min := 2
		if len(recipients) > 0 {
			min = 1
		}
		ref, err := dataRef(c, kind, min, 2, usage)
		if err != nil {
			return err
		}
		req := api.ServiceBackupEncryption{ServiceRef: ref, Recipients: recipients}
		if len(c.Args) > 1 {
			req.Passphrase = c.Args[1]
		}
		if _, err := api.ServicesBackupSetEncryption.Call(c, c.API, req); err != nil {
			return err
		}
		c.Info1("Backups of %s service %s will be encrypted", kind, ref.Name)
		return nil
	}
}

func serviceBackupUnsetEncryption(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		ref, err := dataRef(c, kind, 1, 1, "<name>")
		if err != nil {
			return err
		}
		res, err := api.ServicesBackupUnsetEncryption.Call(c, c.API, ref)
		if err != nil {
			return err
		}
		if res.Changed {
			c.Info1("Backups of %s service %s will no longer be encrypted", kind, ref.Name)
		} else {
			c.Info1("Backups of %s service %s were not encrypted", kind, ref.Name)
		}
		return nil
	}
}
