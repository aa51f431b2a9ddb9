package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berthpaas/berth/internal/api"
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

// backupFile is a file of a backup target.
type backupFile struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// backupTarget is where backups are kept: a local directory now (S3 or
// another store later).
type backupTarget interface {
	// Put stores r's content under name, atomically: the file appears
	// whole, or not at all when reading r or writing fails. A name that
	// exists gives an error matching os.ErrExist.
	Put(name string, r io.Reader) error
	// List returns the target's files (not the partial ones of a Put).
	List() ([]backupFile, error)
	Open(name string) (io.ReadCloser, error)
	Remove(name string) error
	// String says where the target is, for messages.
	String() string
}

// localDir keeps backups in a directory of the host.
type localDir struct{ dir string }

var _ backupTarget = localDir{}

func (d localDir) String() string { return d.dir }

// checkBackupName refuses names that are not plain file names in the
// target.
func checkBackupName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("invalid backup file name %q", name)
	}
	return nil
}

func (d localDir) Put(name string, r io.Reader) (err error) {
	if err := checkBackupName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	final := filepath.Join(d.dir, name)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("%s: %w", final, os.ErrExist)
	}
	f, err := os.CreateTemp(d.dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		os.Remove(f.Name())
	}()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// A hard link never replaces a file of that name; rename is the
	// fallback on file systems without links.
	if err := os.Link(f.Name(), final); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", final, os.ErrExist)
		}
		if err := os.Rename(f.Name(), final); err != nil {
			return err
		}
	}
	return syncDir(d.dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// removePartial removes the temporary files of the service's backups
// that a crash left behind. The caller holds the service's lock, so none
// of them is being written.
func (d localDir) removePartial(kind, name string) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		base, _, ok := strings.Cut(strings.TrimPrefix(e.Name(), "."), ".tmp-")
		if !ok || !strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		if _, _, ours := parseBackupFileName(kind, name, base); ours {
			os.Remove(filepath.Join(d.dir, e.Name()))
		}
	}
}

func (d localDir) List() ([]backupFile, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, err
	}
	var out []backupFile
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, backupFile{Name: e.Name(), Size: info.Size(), ModTime: info.ModTime()})
	}
	return out, nil
}

func (d localDir) Open(name string) (io.ReadCloser, error) {
	if err := checkBackupName(name); err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(d.dir, name))
}

func (d localDir) Remove(name string) error {
	if err := checkBackupName(name); err != nil {
		return err
	}
	return os.Remove(filepath.Join(d.dir, name))
}

// backupTimeFormat is the UTC timestamp of backup file names.
const backupTimeFormat = "20060102-150405"

// backupFileName is KIND-NAME-YYYYMMDD-HHMMSS.EXT (UTC); seq > 0 adds -SEQ
// for a second backup within the same second.
func backupFileName(kind, name string, t time.Time, seq int) string {
	ts := t.UTC().Format(backupTimeFormat)
	if seq > 0 {
		ts += "-" + strconv.Itoa(seq)
	}
	return kind + "-" + name + "-" + ts + "." + dumpExt(kind)
}

var backupSuffixRE = regexp.MustCompile(`^([0-9]{8}-[0-9]{6})(?:-([0-9]{1,4}))?\.([a-z]+)$`)

// parseBackupFileName reads the time and sequence number of a backup file
// of the service; ok is false for any other file. Names are unambiguous:
// the part after KIND-NAME- must be exactly a timestamp, so service "db"
// does not claim the files of service "db-2".
func parseBackupFileName(kind, name, file string) (t time.Time, seq int, ok bool) {
	rest, found := strings.CutPrefix(file, kind+"-"+name+"-")
	if !found {
		return t, 0, false
	}
	m := backupSuffixRE.FindStringSubmatch(rest)
	if m == nil || m[3] != dumpExt(kind) {
		return t, 0, false
	}
	t, err := time.ParseInLocation(backupTimeFormat, m[1], time.UTC)
	if err != nil {
		return t, 0, false
	}
	if m[2] != "" {
		seq, _ = strconv.Atoi(m[2])
	}
	return t, seq, true
}

// serviceBackupFile is a backup file of a service, with its time.
type serviceBackupFile struct {
	backupFile
	Time time.Time
	Seq  int
}

// serviceBackups lists the service's backups in t, oldest first.
func serviceBackups(t backupTarget, kind, name string) ([]serviceBackupFile, error) {
	files, err := t.List()
	if err != nil {
		return nil, err
	}
	var out []serviceBackupFile
	for _, f := range files {
		if ts, seq, ok := parseBackupFileName(kind, name, f.Name); ok {
			out = append(out, serviceBackupFile{backupFile: f, Time: ts, Seq: seq})
		}
	}
	sortBackups(out)
	return out, nil
}

func sortBackups(files []serviceBackupFile) {
	sort.Slice(files, func(i, j int) bool {
		if !files[i].Time.Equal(files[j].Time) {
			return files[i].Time.Before(files[j].Time)
		}
		return files[i].Seq < files[j].Seq
	})
}

// expiredBackups returns the backups beyond the newest keep ones (keep <= 0
// keeps all), oldest first.
func expiredBackups(files []serviceBackupFile, keep int) []serviceBackupFile {
	if keep <= 0 || len(files) <= keep {
		return nil
	}
	sorted := append([]serviceBackupFile(nil), files...)
	sortBackups(sorted)
	return sorted[:len(sorted)-keep]
}

// nextBackupName is the name of a new backup taken at t: the first one not
// taken yet.
func nextBackupName(kind, name string, t time.Time, existing []backupFile) string {
	taken := map[string]bool{}
	for _, f := range existing {
		taken[f.Name] = true
	}
	for seq := 0; ; seq++ {
		if n := backupFileName(kind, name, t, seq); !taken[n] {
			return n
		}
	}
}

// backupParser reads schedules: the standard 5 fields (minute, hour, day of
// month, month, day of week) or a descriptor (@daily, @hourly, @every 1h...).
var backupParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseBackupSchedule checks a schedule and returns it parsed.
func parseBackupSchedule(spec string) (sched cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty schedule")
	}
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("%q: a time zone needs a schedule after it", spec)
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q: %v", spec, r)
		}
	}()
	sched, err = backupParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	// cron rounds shorter intervals up to 1s; say so instead.
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		if v, err := time.ParseDuration(d); err != nil || v < time.Second {
			return nil, fmt.Errorf("%q: @every needs a duration of at least 1s", spec)
		}
	}
	return sched, nil
}

func scheduleError(spec string, err error) error {
	return api.Errorf(api.CodeInvalid, "Invalid backup schedule %q: %v; use 5 cron fields (minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\") or @hourly, @daily, @weekly, @monthly, @every DURATION", spec, err)
}

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

// backupOnce writes one backup of the service into dir and records the
// outcome. The caller holds the service's lock.
func (s *Service) backupOnce(ctx context.Context, sk serviceKind, svc store.Service, dir string, scheduled bool) (api.BackupFile, error) {
	started := s.now()
	file, err := s.writeBackup(ctx, sk, svc, localDir{dir}, started)
	run := store.BackupRun{ServiceID: svc.ID, StartedAt: started, FinishedAt: s.now(), Scheduled: scheduled, OK: err == nil, File: file.Path, Size: file.Size}
	if err != nil {
		run.Error = err.Error()
		s.log.Error("service backup failed", "kind", svc.Kind, "name", svc.Name, "dir", dir, "scheduled", scheduled, "err", err)
	} else {
		s.log.Info("service backed up", "kind", svc.Kind, "name", svc.Name, "file", file.Path, "size", file.Size, "scheduled", scheduled)
	}
	if rerr := s.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error { return tx.AddBackupRun(run) }); rerr != nil {
		s.log.Error("service backup outcome not recorded", "kind", svc.Kind, "name", svc.Name, "err", rerr)
	}
	return file, err
}

// countingReader counts what is read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// writeBackup dumps the service into a new file of t.
func (s *Service) writeBackup(ctx context.Context, sk serviceKind, svc store.Service, t backupTarget, at time.Time) (api.BackupFile, error) {
	eng, err := s.svcEngine(ctx)
	if err != nil {
		return api.BackupFile{}, err
	}
	if ld, ok := t.(localDir); ok {
		if err := os.MkdirAll(ld.dir, 0o700); err != nil {
			return api.BackupFile{}, fmt.Errorf("backup directory: %w", err)
		}
		ld.removePartial(svc.Kind, svc.Name)
	}
	existing, err := t.List()
	if err != nil {
		return api.BackupFile{}, fmt.Errorf("backup directory: %w", err)
	}
	name := nextBackupName(svc.Kind, svc.Name, at, existing)
	pr, pw := io.Pipe()
	dumped := make(chan error, 1)
	go func() {
		err := s.dumpService(ctx, eng, sk, svc, pw)
		pw.CloseWithError(err)
		dumped <- err
	}()
	cr := &countingReader{r: pr}
	perr := t.Put(name, cr)
	pr.CloseWithError(errors.New("the backup file could not be written"))
	if derr := <-dumped; derr != nil {
		// Put has seen the error too (the pipe carries it): no file.
		return api.BackupFile{}, derr
	}
	if perr != nil {
		return api.BackupFile{}, fmt.Errorf("write %s in %s: %w", name, t, perr)
	}
	return api.BackupFile{Name: name, Path: filepath.Join(t.String(), name), Size: cr.n, Time: at.UTC().Truncate(time.Second)}, nil
}

// pruneBackups removes the service's backups in dir beyond the newest keep.
func (s *Service) pruneBackups(svc store.Service, t backupTarget, keep int) {
	files, err := serviceBackups(t, svc.Kind, svc.Name)
	if err != nil {
		s.log.Error("backup retention: list", "kind", svc.Kind, "name", svc.Name, "dir", t.String(), "err", err)
		return
	}
	for _, f := range expiredBackups(files, keep) {
		if err := t.Remove(f.Name); err != nil {
			s.log.Error("backup retention: remove", "kind", svc.Kind, "name", svc.Name, "file", f.Name, "err", err)
			continue
		}
		s.log.Info("backup retention: removed", "kind", svc.Kind, "name", svc.Name, "file", f.Name, "keep", keep)
	}
}

// backupScheduler runs the services' scheduled backups in the daemon.
type backupScheduler struct {
	mu      sync.Mutex
	ctx     context.Context // the daemon's; nil until started
	cron    *cron.Cron
	entries map[int64]cron.EntryID // by service ID
}

var (
	schedulersMu sync.Mutex
	schedulers   = map[*Service]*backupScheduler{}
)

// cronLogger sends the cron library's messages to the daemon's log.
type cronLogger struct{ s *Service }

func (l cronLogger) Info(msg string, kv ...any) { l.s.log.Debug("backup scheduler: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.s.log.Error("backup scheduler: "+msg, append(kv, "err", err)...)
}

func (s *Service) backups() *backupScheduler {
	schedulersMu.Lock()
	defer schedulersMu.Unlock()
	b := schedulers[s]
	if b == nil {
		b = &backupScheduler{cron: cron.New(cron.WithParser(backupParser), cron.WithLogger(cronLogger{s})), entries: map[int64]cron.EntryID{}}
		schedulers[s] = b
	}
	return b
}

// startBackupSchedules starts the scheduled backups of every service, until
// ctx ends. The daemon calls it once at start.
func (s *Service) startBackupSchedules(ctx context.Context) {
	b := s.backups()
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	var all []store.BackupSchedule
	if err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { all, err = tx.BackupSchedules(); return err }); err != nil {
		s.log.Error("backup schedules not loaded", "err", err)
	}
	for _, sched := range all {
		if err := s.scheduleBackups(sched); err != nil {
			s.log.Error("backup schedule not started", "kind", sched.Service.Kind, "name", sched.Service.Name, "schedule", sched.Schedule, "err", err)
		}
	}
	b.cron.Start()
	if len(all) > 0 {
		s.log.Info("backup schedules started", "count", len(all))
	}
	go func() {
		<-ctx.Done()
		b.cron.Stop()
	}()
}

// scheduleBackups (re)places a service's entry in the scheduler.
func (s *Service) scheduleBackups(sched store.BackupSchedule) error {
	spec, err := parseBackupSchedule(sched.Schedule)
	if err != nil {
		return err
	}
	b := s.backups()
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.entries[sched.Service.ID]; ok {
		b.cron.Remove(id)
	}
	logger := cronLogger{s}
	kind, name, id := sched.Service.Kind, sched.Service.Name, sched.Service.ID
	job := cron.NewChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)).Then(cron.FuncJob(func() { s.scheduledBackup(kind, name, id) }))
	b.entries[sched.Service.ID] = b.cron.Schedule(spec, job)
	return nil
}

// unscheduleBackups stops a service's scheduled backups (its schedule
// record goes with the service, or with backup-unschedule). A run in
// progress finishes; one about to start finds no schedule and does nothing.
func (s *Service) unscheduleBackups(svc store.Service) {
	b := s.backups()
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.entries[svc.ID]; ok {
		b.cron.Remove(id)
		delete(b.entries, svc.ID)
	}
}

func (b *backupScheduler) context() context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		return context.Background()
	}
	return b.ctx
}

// scheduledBackup is one run of a service's schedule: a backup, then the
// retention of its directory.
func (s *Service) scheduledBackup(kind, name string, id int64) {
	ctx, cancel := context.WithTimeout(s.backups().context(), backupTimeout)
	defer cancel()
	if ctx.Err() != nil {
		return
	}
	sk, err := kindOf(kind)
	if err != nil {
		return
	}
	defer lockService(kind, name)()
	// Read under the lock: a service destroyed or unscheduled meanwhile
	// is not backed up.
	var svc store.Service
	var sched store.BackupSchedule
	err = s.store.Tx(ctx, func(tx *store.Tx) (err error) {
		if svc, err = tx.Service(kind, name); err != nil {
			return err
		}
		if svc.ID != id {
			return store.ErrServiceNotFound
		}
		sched, err = tx.BackupSchedule(svc)
		return err
	})
	if errors.Is(err, store.ErrServiceNotFound) || errors.Is(err, store.ErrNoBackupSchedule) {
		return
	}
	if err != nil {
		s.log.Error("scheduled backup: read the schedule", "kind", kind, "name", name, "err", err)
		return
	}
	if _, err := s.backupOnce(ctx, sk, svc, sched.Dir, true); err != nil {
		return
	}
	s.pruneBackups(svc, localDir{sched.Dir}, sched.Keep)
}

// backupSummary is the backup state info shows.
func (s *Service) backupSummary(ctx context.Context, svc store.Service) api.BackupSummary {
	var sum api.BackupSummary
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		sched, err := tx.BackupSchedule(svc)
		switch {
		case err == nil:
			sum.Schedule = describeSchedule(sched.Schedule, sched.Dir, sched.Keep)
		case !errors.Is(err, store.ErrNoBackupSchedule):
			return err
		}
		ok, failed, err := tx.LastBackupRuns(svc)
		if err != nil {
			return err
		}
		sum.LastOK, sum.LastFailed, sum.LastError = ok.FinishedAt, failed.FinishedAt, failed.Error
		return nil
	})
	if err != nil {
		s.log.Error("backup summary", "kind", svc.Kind, "name", svc.Name, "err", err)
	}
	return sum
}

func describeSchedule(spec, dir string, keep int) string {
	k := "keep all"
	if keep > 0 {
		k = "keep " + strconv.Itoa(keep)
	}
	return fmt.Sprintf("%s to %s (%s)", spec, dir, k)
}

func (s *Service) serviceBackup(ctx context.Context, req api.ServiceBackup, _ api.Output) (api.BackupFile, error) {
	sk, svc, err := s.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.BackupFile{}, err
	}
	dir, err := checkBackupDir(req.Dir)
	if err != nil {
		return api.BackupFile{}, err
	}
	defer lockService(req.Kind, req.Name)()
	f, err := s.backupOnce(ctx, sk, svc, dir, false)
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

func (s *Service) serviceBackupSchedule(ctx context.Context, req api.ServiceBackupSchedule, _ api.Output) (api.BackupScheduleInfo, error) {
	_, svc, err := s.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.BackupScheduleInfo{}, err
	}
	spec := strings.Join(strings.Fields(req.Schedule), " ")
	if _, err := parseBackupSchedule(spec); err != nil {
		return api.BackupScheduleInfo{}, scheduleError(req.Schedule, err)
	}
	dir, err := checkBackupDir(req.Dir)
	if err != nil {
		return api.BackupScheduleInfo{}, err
	}
	keep := defaultBackupKeep
	if req.Keep != nil {
		keep = *req.Keep
	}
	if keep < 0 {
		return api.BackupScheduleInfo{}, api.Errorf(api.CodeInvalid, "--keep must be 0 (keep all) or more")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return api.BackupScheduleInfo{}, api.Errorf(api.CodeInvalid, "Backup directory %s cannot be created: %v", dir, err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return api.BackupScheduleInfo{}, api.Errorf(api.CodeInvalid, "Backup directory %s is not a directory", dir)
	}
	defer lockService(req.Kind, req.Name)()
	sched := store.BackupSchedule{Service: svc, Schedule: spec, Dir: dir, Keep: keep, CreatedAt: s.now()}
	if err := s.store.Tx(ctx, func(tx *store.Tx) error { return tx.SetBackupSchedule(sched) }); err != nil {
		return api.BackupScheduleInfo{}, err
	}
	if err := s.scheduleBackups(sched); err != nil {
		return api.BackupScheduleInfo{}, scheduleError(spec, err)
	}
	s.log.Info("service backups scheduled", "kind", svc.Kind, "name", svc.Name, "schedule", spec, "dir", dir, "keep", keep)
	return api.BackupScheduleInfo{Schedule: spec, Dir: dir, Keep: keep}, nil
}

func (s *Service) serviceBackupUnschedule(ctx context.Context, req api.ServiceRef, _ api.Output) (api.BackupUnscheduleResult, error) {
	_, svc, err := s.loadService(ctx, req)
	if err != nil {
		return api.BackupUnscheduleResult{}, err
	}
	var res api.BackupUnscheduleResult
	if err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { res.Removed, err = tx.DeleteBackupSchedule(svc); return err }); err != nil {
		return res, err
	}
	s.unscheduleBackups(svc)
	// Wait for a run in progress: once this returns, no scheduled backup
	// of the service writes anything.
	lockService(req.Kind, req.Name)()
	if res.Removed {
		s.log.Info("service backups unscheduled", "kind", svc.Kind, "name", svc.Name)
	}
	return res, nil
}

func (s *Service) serviceBackupScheduleCat(ctx context.Context, req api.ServiceRef, _ api.Output) (api.BackupScheduleInfo, error) {
	_, svc, err := s.loadService(ctx, req)
	if err != nil {
		return api.BackupScheduleInfo{}, err
	}
	var sched store.BackupSchedule
	err = s.store.Tx(ctx, func(tx *store.Tx) (err error) { sched, err = tx.BackupSchedule(svc); return err })
	if errors.Is(err, store.ErrNoBackupSchedule) {
		return api.BackupScheduleInfo{}, api.Errorf(api.CodeNotFound, "%s service %s has no backup schedule", titleKind(svc.Kind), svc.Name)
	}
	return api.BackupScheduleInfo{Schedule: sched.Schedule, Dir: sched.Dir, Keep: sched.Keep}, err
}

// scheduledDir is the directory of a service's schedule.
func (s *Service) scheduledDir(ctx context.Context, svc store.Service, what string) (string, error) {
	var sched store.BackupSchedule
	err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { sched, err = tx.BackupSchedule(svc); return err })
	if errors.Is(err, store.ErrNoBackupSchedule) {
		return "", api.Errorf(api.CodeInvalid, "%s service %s has no backup schedule: %s", titleKind(svc.Kind), svc.Name, what)
	}
	return sched.Dir, err
}

func (s *Service) serviceBackupList(ctx context.Context, req api.ServiceBackupList, _ api.Output) (api.BackupList, error) {
	_, svc, err := s.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.BackupList{}, err
	}
	dir := req.Dir
	if dir == "" {
		if dir, err = s.scheduledDir(ctx, svc, "give the directory to list"); err != nil {
			return api.BackupList{}, err
		}
	}
	if dir, err = checkBackupDir(dir); err != nil {
		return api.BackupList{}, err
	}
	res := api.BackupList{Dir: dir, Files: []api.BackupFile{}}
	files, err := serviceBackups(localDir{dir}, svc.Kind, svc.Name)
	if errors.Is(err, os.ErrNotExist) {
		return res, api.Errorf(api.CodeNotFound, "Backup directory %s does not exist", dir)
	}
	if err != nil {
		return res, err
	}
	for _, f := range files {
		res.Files = append(res.Files, api.BackupFile{Name: f.Name, Path: filepath.Join(dir, f.Name), Size: f.Size, Time: f.Time})
	}
	return res, nil
}

func (s *Service) serviceBackupRestore(ctx context.Context, req api.ServiceBackupRestore, out api.Output) (api.Empty, error) {
	sk, svc, err := s.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.Empty{}, err
	}
	var t backupTarget
	name := req.File
	switch {
	case req.File == "":
		return api.Empty{}, api.Errorf(api.CodeInvalid, "Please specify a backup file: a name from %s:backup-list or an absolute path", svc.Kind)
	case filepath.IsAbs(req.File):
		t, name = localDir{filepath.Dir(req.File)}, filepath.Base(req.File)
	case strings.Contains(req.File, "/"):
		return api.Empty{}, api.Errorf(api.CodeInvalid, "Backup file %q: give a name from %s:backup-list or an absolute path", req.File, svc.Kind)
	default:
		dir, err := s.scheduledDir(ctx, svc, "give the backup file's absolute path")
		if err != nil {
			return api.Empty{}, err
		}
		t = localDir{dir}
	}
	f, err := t.Open(name)
	if err != nil {
		return api.Empty{}, api.Errorf(api.CodeNotFound, "Backup file %s cannot be opened: %v", filepath.Join(t.String(), name), err)
	}
	defer f.Close()
	if st, ok := f.(*os.File); ok {
		if info, err := st.Stat(); err == nil && !info.Mode().IsRegular() {
			return api.Empty{}, api.Errorf(api.CodeInvalid, "Backup file %s is not a regular file", filepath.Join(t.String(), name))
		}
	}
	defer lockService(req.Kind, req.Name)()
	eng, err := s.svcEngine(ctx)
	if err != nil {
		return api.Empty{}, err
	}
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	fmt.Fprintf(out.Stdout, "-----> Restoring %s service %s from %s\n", svc.Kind, svc.Name, filepath.Join(t.String(), name))
	if err := s.restoreService(ctx, eng, sk, svc, f, out); err != nil {
		code := api.CodeInternal
		var ae *api.Error
		if errors.As(err, &ae) {
			code = ae.Code
		}
		return api.Empty{}, api.Errorf(code, "Restore of %s service %s from %s failed: %v", svc.Kind, svc.Name, name, err)
	}
	s.log.Info("service restored from a backup", "kind", svc.Kind, "name", svc.Name, "file", filepath.Join(t.String(), name))
	return api.Empty{}, nil
}
