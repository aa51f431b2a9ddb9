package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
)

// PreviewRestore says what a preview service was restored from.
type PreviewRestore struct {
	// From is where the backup was read (a path or s3:// address).
	From string
	// Fresh is true when src had no backup in its scheduled target and
	// one was taken for the preview (then removed).
	Fresh bool
}

// RestoreLatestBackup fills dst, a service of src's kind (a preview app's
// copy), with src's newest backup: the newest file in src's scheduled
// backup target (a directory or src's S3 bucket, checked against its
// recorded checksum), decrypted with src's own passphrase. When src has no
// schedule or no backup there, a fresh backup of src is written into
// freshDir (an absolute directory, created if missing), restored, and
// removed. src is only read.
func (m *Manager) RestoreLatestBackup(ctx context.Context, src, dst api.ServiceRef, freshDir string, out api.Output) (PreviewRestore, error) {
	var res PreviewRestore
	sk, srcSvc, err := m.loadService(ctx, src)
	if err != nil {
		return res, err
	}
	_, dstSvc, err := m.loadService(ctx, dst)
	if err != nil {
		return res, err
	}
	if dstSvc.Kind != srcSvc.Kind {
		return res, api.Errorf(api.CodeInvalid, "%s service %s cannot take a backup of %s service %s", dstSvc.Kind, dstSvc.Name, srcSvc.Kind, srcSvc.Name)
	}
	var t backupTarget
	name := ""
	if dir, err := m.scheduledDir(ctx, srcSvc, ""); err == nil {
		if t, err = m.backupTargetFor(ctx, srcSvc, dir, false); err != nil {
			return res, err
		}
		files, err := serviceBackups(t, srcSvc.Kind, srcSvc.Name)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, fmt.Errorf("list the backups of %s service %s in %s: %w", srcSvc.Kind, srcSvc.Name, t, err)
		}
		if len(files) > 0 {
			name = files[len(files)-1].Name // oldest first
		}
	}
	if name == "" {
		if err := os.MkdirAll(freshDir, 0o700); err != nil {
			return res, err
		}
		if t, err = m.backupTargetFor(ctx, srcSvc, freshDir, false); err != nil {
			return res, err
		}
		unlock := m.lock(srcSvc.Kind, srcSvc.Name)
		f, err := m.backupOnce(ctx, sk, srcSvc, t, false)
		unlock()
		if err != nil {
			return res, fmt.Errorf("fresh backup of %s service %s: %w", srcSvc.Kind, srcSvc.Name, err)
		}
		name, res.Fresh = f.Name, true
		defer t.Remove(name)
	}
	res.From = targetPath(t, name)
	if c, ok := t.(interface {
		Check(name string) (string, error)
	}); ok {
		if _, err := c.Check(name); err != nil {
			return res, fmt.Errorf("backup %s: %w", res.From, err)
		}
	}
	own, _, err := m.backupEncryption(srcSvc)
	if err != nil {
		return res, fmt.Errorf("backup encryption of %s service %s unreadable: %w", srcSvc.Kind, srcSvc.Name, err)
	}
	ids, err := decryptIdentities("", "", own)
	if err != nil {
		return res, err
	}
	f, err := t.Open(name)
	if err != nil {
		return res, fmt.Errorf("open backup %s: %w", res.From, err)
	}
	defer f.Close()
	dump, err := openBackup(f, res.From, ids)
	if err != nil {
		return res, err
	}
	defer m.lock(dstSvc.Kind, dstSvc.Name)()
	eng, err := m.engine(ctx)
	if err != nil {
		return res, err
	}
	err = m.restoreService(ctx, eng, sk, dstSvc, dump, out)
	m.recordRestore(dstSvc, "preview", res.From, err)
	return res, err
}

// RunScript runs an SQL script in a Postgres service's database with psql,
// stopping at the first error, in one transaction: a failing script
// changes nothing.
func (m *Manager) RunScript(ctx context.Context, ref api.ServiceRef, script string, out api.Output) error {
	sk, svc, err := m.loadService(ctx, ref)
	if err != nil {
		return err
	}
	if sk.name != "postgres" {
		return api.Errorf(api.CodeInvalid, "%s services take no SQL script", sk.name)
	}
	eng, err := m.engine(ctx)
	if err != nil {
		return err
	}
	defer m.lock(svc.Kind, svc.Name)()
	id, err := m.runningService(ctx, eng, svc)
	if err != nil {
		return err
	}
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	var stderr headBuffer
	cmd := []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-U", "postgres", "-d", dbName(svc.Name), "-f", "-"}
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: cmd, Env: sk.execEnv(svc), Stdin: strings.NewReader(script), Stdout: out.Stdout, Stderr: &stderr})
	if err != nil {
		return fmt.Errorf("psql: %w", err)
	}
	if code != 0 {
		return api.Errorf(api.CodeInvalid, "%v; the database was left as restored", toolError("psql", code, stderr.String()))
	}
	return nil
}
