package services

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Backups of services: one-off (KIND:backup) and scheduled
// (KIND:backup-schedule) dumps written as files into a directory, through
// dumpService; restores through restoreService. See docs/service-backups.md.

// defaultBackupKeep is how many of a service's newest backups a scheduled
// run keeps in its directory when --keep is not given.
const defaultBackupKeep = 7

// backupTimeout bounds one backup run.
var backupTimeout = 6 * time.Hour

// checkBackupDir requires an absolute directory.
func checkBackupDir(dir string) (string, error) {
	if dir == "" {
		return "", api.Errorf(api.CodeInvalid, "Please specify a backup directory (an absolute path on the server)")
	}
	if !filepath.IsAbs(dir) {
		return "", api.Errorf(api.CodeInvalid, "Backup directory %q must be an absolute path", dir)
	}
	return filepath.Clean(dir), nil
}

// backupOnce writes one backup of the service into t and records the
// outcome. The caller holds the service's lock.
func (m *Manager) backupOnce(ctx context.Context, sk serviceKind, svc store.Service, t backupTarget, scheduled bool) (api.BackupFile, error) {
	started := m.now()
	dir := t.String()
	cf, err := m.writeBackup(ctx, sk, svc, t, started)
	file, counts := cf.BackupFile, cf.counts
	run := store.BackupRun{ServiceID: svc.ID, StartedAt: started, FinishedAt: m.now(), Scheduled: scheduled, OK: err == nil, File: file.Path, Size: file.Size}
	if err != nil {
		run.Error = err.Error()
		m.log.Error("service backup failed", "kind", svc.Kind, "name", svc.Name, "dir", dir, "scheduled", scheduled, "err", err)
	} else {
		m.log.Info("service backed up", "kind", svc.Kind, "name", svc.Name, "file", file.Path, "size", file.Size, "scheduled", scheduled)
	}
	if rerr := m.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		if err := tx.AddBackupRun(run); err != nil || counts == nil {
			return err
		}
		// The row counts restore drills compare with (verify.go).
		return tx.SetBackupCounts(svc, file.Path, counts)
	}); rerr != nil {
		m.log.Error("service backup outcome not recorded", "kind", svc.Kind, "name", svc.Name, "err", rerr)
	}
	return file, err
}

// writeBackup dumps the service into a new file of t: encrypted as it is
// streamed when the service's backups are, hashed (sha256) on the way, and
// verified against the stored copy when t can (S3). A postgres backup's
// row counts, taken in the dump's snapshot, come with it (restore drills
// compare with them).
func (m *Manager) writeBackup(ctx context.Context, sk serviceKind, svc store.Service, t backupTarget, at time.Time) (countedFile, error) {
	fail := func(err error) (countedFile, error) { return countedFile{}, err }
	eng, err := m.engine(ctx)
	if err != nil {
		return fail(err)
	}
	enc, encrypted, err := m.backupEncryption(svc)
	if err != nil {
		return fail(fmt.Errorf("backup encryption setting: %w", err))
	}
	var recipients []age.Recipient
	suffix := ""
	if encrypted {
		if recipients, err = enc.recipients(); err != nil {
			return fail(fmt.Errorf("backup encryption setting: %w", err))
		}
		suffix = ageExt
	}
	if ld, ok := t.(localDir); ok {
		if err := os.MkdirAll(ld.dir, 0o700); err != nil {
			return fail(fmt.Errorf("backup directory: %w", err))
		}
		ld.removePartial(svc.Kind, svc.Name)
	}
	existing, err := t.List()
	if err != nil {
		return fail(fmt.Errorf("backup target %s: %w", t, err))
	}
	name := nextBackupName(svc.Kind, svc.Name, at, existing, suffix)
	pr, pw := io.Pipe()
	dumped := make(chan error, 1)
	var counts map[string]int64
	go func() {
		err := dumpEncrypted(pw, recipients, func(w io.Writer) (err error) {
			if sk.name == "postgres" {
				counts, err = m.dumpPostgresCounted(ctx, eng, sk, svc, w)
				return err
			}
			return m.dumpService(ctx, eng, sk, svc, w)
		})
		pw.CloseWithError(err)
		dumped <- err
	}()
	sum := sha256.New()
	cr := &countingReader{r: io.TeeReader(pr, sum)}
	rd := &dumpReader{r: cr}
	perr := t.Put(name, rd)
	pr.CloseWithError(errors.New("the backup file could not be written"))
	derr := <-dumped
	if perr != nil && rd.err == nil {
		// Writing failed first (the dump then failed on the closed pipe,
		// which says nothing): say why. Put removed its partial file.
		return fail(app.NoSpace(fmt.Errorf("write %s in %s: %w", name, t, perr), name, t.String(), "back up again"))
	}
	if derr != nil {
		// Put has seen the error too (the pipe carries it): no file.
		return fail(derr)
	}
	if perr != nil {
		return fail(fmt.Errorf("write %s in %s: %w", name, t, perr))
	}
	file := countedFile{counts: counts}
	file.BackupFile = api.BackupFile{Name: name, Path: targetPath(t, name), Size: cr.n, Time: at.UTC().Truncate(time.Second), Encrypted: encrypted}
	if v, ok := t.(interface{ Verify(name, sum string) error }); ok {
		file.SHA256 = hex.EncodeToString(sum.Sum(nil))
		if err := v.Verify(name, file.SHA256); err != nil {
			return fail(err)
		}
	}
	return file, nil
}

// dumpEncrypted runs dump into w, through age when there are recipients.
func dumpEncrypted(w io.Writer, recipients []age.Recipient, dump func(io.Writer) error) error {
	if len(recipients) == 0 {
		return dump(w)
	}
	aw, err := age.Encrypt(w, recipients...)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	if err := dump(aw); err != nil {
		return err
	}
	return aw.Close()
}

// dumpReader remembers the error of reading the dump (other than io.EOF):
// without one, a failed Put failed at writing.
type dumpReader struct {
	r   io.Reader
	err error
}

func (d *dumpReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		d.err = err
	}
	return n, err
}

// pruneBackups removes the service's backups in dir beyond the newest keep.
func (m *Manager) pruneBackups(svc store.Service, t backupTarget, keep int) {
	files, err := serviceBackups(t, svc.Kind, svc.Name)
	if err != nil {
		m.log.Error("backup retention: list", "kind", svc.Kind, "name", svc.Name, "dir", t.String(), "err", err)
		return
	}
	for _, f := range expiredBackups(files, keep) {
		if err := t.Remove(f.Name); err != nil {
			m.log.Error("backup retention: remove", "kind", svc.Kind, "name", svc.Name, "file", f.Name, "err", err)
			continue
		}
		m.log.Info("backup retention: removed", "kind", svc.Kind, "name", svc.Name, "file", f.Name, "keep", keep)
	}
}

// backupSummary is the backup state info shows.
func (m *Manager) backupSummary(ctx context.Context, svc store.Service) api.BackupSummary {
	var sum api.BackupSummary
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		sched, err := tx.BackupSchedule(svc)
		switch {
		case err == nil:
			sum.Schedule = describeSchedule(sched.Schedule, sched.Dir, sched.Keep)
			if v, err := tx.BackupScheduleVerify(svc); err != nil {
				return err
			} else if v {
				sum.Schedule += ", a restore drill after each"
			}
		case !errors.Is(err, store.ErrNoBackupSchedule):
			return err
		}
		ok, failed, err := tx.LastBackupRuns(svc)
		if err != nil {
			return err
		}
		sum.LastOK, sum.LastFailed, sum.LastError = ok.FinishedAt, failed.FinishedAt, failed.Error
		sum.LastDrill, err = m.lastDrill(tx, svc)
		return err
	})
	if err != nil {
		m.log.Error("backup summary", "kind", svc.Kind, "name", svc.Name, "err", err)
	}
	if a, ok, err := m.backupAuth(svc); ok {
		sum.Auth = a.describe()
	} else if err != nil {
		sum.Auth = "unreadable: " + err.Error()
	}
	if e, ok, err := m.backupEncryption(svc); ok {
		sum.Encryption = e.describe()
	} else if err != nil {
		sum.Encryption = "unreadable: " + err.Error()
	}
	return sum
}

func (m *Manager) serviceBackup(ctx context.Context, req api.ServiceBackup, _ api.Output) (api.BackupFile, error) {
	sk, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.BackupFile{}, err
	}
	if req.Keep != nil && *req.Keep < 0 {
		return api.BackupFile{}, api.Errorf(api.CodeInvalid, "--keep must be 0 (keep all) or more")
	}
	t, err := m.backupTargetFor(ctx, svc, req.Dir, req.UseIAM)
	if err != nil {
		return api.BackupFile{}, err
	}
	defer m.lock(req.Kind, req.Name)()
	f, err := m.backupOnce(ctx, sk, svc, t, false)
	if err == nil && req.Keep != nil {
		m.pruneBackups(svc, t, *req.Keep)
	}
	if err != nil {
		var ae *api.Error
		code := api.CodeInternal
		if errors.As(err, &ae) {
			code = ae.Code
		}
		return f, api.Errorf(code, "Backup of %s service %s failed: %v", svc.Kind, svc.Name, err)
	}
	return f, nil
}

func (m *Manager) serviceBackupSchedule(ctx context.Context, req api.ServiceBackupSchedule, _ api.Output) (api.BackupScheduleInfo, error) {
	_, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.BackupScheduleInfo{}, err
	}
	spec := strings.Join(strings.Fields(req.Schedule), " ")
	if _, err := parseBackupSchedule(spec); err != nil {
		return api.BackupScheduleInfo{}, scheduleError(req.Schedule, err)
	}
	t, err := m.backupTargetFor(ctx, svc, req.Dir, false)
	if err != nil {
		return api.BackupScheduleInfo{}, err
	}
	dir := t.String()
	keep := defaultBackupKeep
	if req.Keep != nil {
		keep = *req.Keep
	}
	if keep < 0 {
		return api.BackupScheduleInfo{}, api.Errorf(api.CodeInvalid, "--keep must be 0 (keep all) or more")
	}
	if st, ok := t.(*s3Target); ok {
		if _, err := st.List(); err != nil {
			return api.BackupScheduleInfo{}, api.Errorf(api.CodeInvalid, "Bucket %s cannot be listed with the service's credentials: %v", dir, err)
		}
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return api.BackupScheduleInfo{}, api.Errorf(api.CodeInvalid, "Backup directory %s cannot be created: %v", dir, err)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return api.BackupScheduleInfo{}, api.Errorf(api.CodeInvalid, "Backup directory %s is not a directory", dir)
		}
	}
	if req.Verify {
		if err := m.checkDrillable(svc); err != nil {
			return api.BackupScheduleInfo{}, err
		}
	}
	defer m.lock(req.Kind, req.Name)()
	sched := store.BackupSchedule{Service: svc, Schedule: spec, Dir: dir, Keep: keep, CreatedAt: m.now()}
	if err := m.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.SetBackupSchedule(sched); err != nil {
			return err
		}
		return tx.SetBackupScheduleVerify(svc, req.Verify)
	}); err != nil {
		return api.BackupScheduleInfo{}, err
	}
	if err := m.scheduleBackups(sched); err != nil {
		return api.BackupScheduleInfo{}, scheduleError(spec, err)
	}
	m.log.Info("service backups scheduled", "kind", svc.Kind, "name", svc.Name, "schedule", spec, "dir", dir, "keep", keep, "verify", req.Verify)
	return api.BackupScheduleInfo{Schedule: spec, Dir: dir, Keep: keep, Verify: req.Verify}, nil
}

func (m *Manager) serviceBackupUnschedule(ctx context.Context, req api.ServiceRef, _ api.Output) (api.BackupUnscheduleResult, error) {
	_, svc, err := m.loadService(ctx, req)
	if err != nil {
		return api.BackupUnscheduleResult{}, err
	}
	var res api.BackupUnscheduleResult
	if err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { res.Removed, err = tx.DeleteBackupSchedule(svc); return err }); err != nil {
		return res, err
	}
	m.unscheduleBackups(svc)
	// Wait for a run in progress: once this returns, no scheduled backup
	// of the service writes anything.
	m.lock(req.Kind, req.Name)()
	if res.Removed {
		m.log.Info("service backups unscheduled", "kind", svc.Kind, "name", svc.Name)
	}
	return res, nil
}

func (m *Manager) serviceBackupScheduleCat(ctx context.Context, req api.ServiceRef, _ api.Output) (api.BackupScheduleInfo, error) {
	_, svc, err := m.loadService(ctx, req)
	if err != nil {
		return api.BackupScheduleInfo{}, err
	}
	var sched store.BackupSchedule
	var verify bool
	err = m.store.Tx(ctx, func(tx *store.Tx) (err error) {
		if sched, err = tx.BackupSchedule(svc); err != nil {
			return err
		}
		verify, err = tx.BackupScheduleVerify(svc)
		return err
	})
	if errors.Is(err, store.ErrNoBackupSchedule) {
		return api.BackupScheduleInfo{}, api.Errorf(api.CodeNotFound, "%s service %s has no backup schedule", titleKind(svc.Kind), svc.Name)
	}
	return api.BackupScheduleInfo{Schedule: sched.Schedule, Dir: sched.Dir, Keep: sched.Keep, Verify: verify}, err
}

// scheduledDir is the directory of a service's schedule.
func (m *Manager) scheduledDir(ctx context.Context, svc store.Service, what string) (string, error) {
	var sched store.BackupSchedule
	err := m.store.Tx(ctx, func(tx *store.Tx) (err error) { sched, err = tx.BackupSchedule(svc); return err })
	if errors.Is(err, store.ErrNoBackupSchedule) {
		return "", api.Errorf(api.CodeInvalid, "%s service %s has no backup schedule: %s", titleKind(svc.Kind), svc.Name, what)
	}
	return sched.Dir, err
}

func (m *Manager) serviceBackupList(ctx context.Context, req api.ServiceBackupList, _ api.Output) (api.BackupList, error) {
	_, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.BackupList{}, err
	}
	dir := req.Dir
	if dir == "" {
		if dir, err = m.scheduledDir(ctx, svc, "give the directory to list"); err != nil {
			return api.BackupList{}, err
		}
	}
	t, err := m.backupTargetFor(ctx, svc, dir, false)
	if err != nil {
		return api.BackupList{}, err
	}
	res := api.BackupList{Dir: t.String(), Files: []api.BackupFile{}}
	files, err := serviceBackups(t, svc.Kind, svc.Name)
	if errors.Is(err, os.ErrNotExist) {
		return res, api.Errorf(api.CodeNotFound, "Backup directory %s does not exist", dir)
	}
	if err != nil {
		return res, api.Errorf(api.CodeInternal, "List %s: %v", t, err)
	}
	for _, f := range files {
		res.Files = append(res.Files, api.BackupFile{Name: f.Name, Path: targetPath(t, f.Name), Size: f.Size, Time: f.Time, Encrypted: strings.HasSuffix(f.Name, ageExt)})
	}
	return res, nil
}

func (m *Manager) serviceBackupRestore(ctx context.Context, req api.ServiceBackupRestore, out api.Output) (api.Empty, error) {
	sk, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.Empty{}, err
	}
	t, name, err := m.resolveBackup(ctx, svc, req.File, false)
	if err != nil {
		return api.Empty{}, err
	}
	where := targetPath(t, name)
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	// An S3 backup is checked against its recorded sha256, and an
	// encrypted one decrypted, before a byte of it reaches the service.
	dump, f, err := m.openBackupFile(t, name, req.Passphrase, req.Identity, svc, out.Stdout)
	if err != nil {
		return api.Empty{}, err
	}
	defer f.Close()
	defer m.lock(req.Kind, req.Name)()
	eng, err := m.engine(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	fmt.Fprintf(out.Stdout, "-----> Restoring %s service %s from %s\n", svc.Kind, svc.Name, where)
	err = m.restoreService(ctx, eng, sk, svc, dump, out)
	m.recordRestore(svc, "backup-restore", where, err)
	if err != nil {
		code := api.CodeInternal
		var ae *api.Error
		if errors.As(err, &ae) {
			code = ae.Code
		}
		return api.Empty{}, api.Errorf(code, "Restore of %s service %s from %s failed: %v", svc.Kind, svc.Name, name, err)
	}
	m.log.Info("service restored from a backup", "kind", svc.Kind, "name", svc.Name, "file", where)
	return api.Empty{}, nil
}
