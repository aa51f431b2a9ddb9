package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// Restore drills (KIND:backup-verify): a backup restored into a throw-away
// container of the service's image, and every table's row count compared
// with the count recorded when the backup was taken. The live service is
// not touched. A schedule set with --verify runs a drill after each
// backup. See docs/data-safety.md.
//
// The counts are taken in the dump's own snapshot: a psql session opens a
// repeatable-read transaction, exports its snapshot, counts every table,
// and runs pg_dump --snapshot in it. Writers running meanwhile change
// neither the dump nor the counts.

// drillKind labels the throw-away containers (berth.kind), so that the
// ones a crash left behind are found and removed at daemon start.
const drillKind = "service-drill"

// countTablesSQL lists every ordinary and partitioned table outside the
// system schemas with its exact row count, as "schema.table=N" (names as
// pg_dump quotes them). Materialized views are left out: a restore
// refreshes them, so their rows need not match the backup's.
const countTablesSQL = `SELECT format('%I.%I', n.nspname, c.relname) || '=' || ` +
	`(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text ` +
	`FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ` +
	`WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ` +
	`AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%' ORDER BY 1`

// countPrefix and dumpExitPrefix start the lines of the counted dump's
// script on stderr.
const (
	countPrefix    = "berth-count "
	dumpExitPrefix = "berth-dump-exit "
)

// countedDumpScript is the psql script of dumpPostgresCounted.
func countedDumpScript(db string) string {
	return `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT pg_export_snapshot() AS berth_snap \gset
\setenv BERTH_SNAP :berth_snap
\o /dev/stderr
SELECT '` + countPrefix + `' || line FROM (` + countTablesSQL + `) AS t(line);
\o
\! pg_dump -Fc -U postgres --snapshot="$BERTH_SNAP" ` + db + `; echo "` + dumpExitPrefix + `$?" >&2
COMMIT;
`
}

// countedStderr reads the counted dump's stderr: the count and exit
// lines, and the first 64 KiB of the rest (errors).
type countedStderr struct {
	partial []byte
	counts  map[string]int64
	exit    string
	other   headBuffer
}

func (c *countedStderr) Write(p []byte) (int, error) {
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(string(c.partial[:i]))
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

func (c *countedStderr) line(l string) {
	switch {
	case strings.HasPrefix(l, countPrefix):
		table, n, ok := parseCountLine(strings.TrimPrefix(l, countPrefix))
		if ok {
			c.counts[table] = n
			return
		}
	case strings.HasPrefix(l, dumpExitPrefix):
		c.exit = strings.TrimSpace(strings.TrimPrefix(l, dumpExitPrefix))
		return
	}
	c.other.WriteString(l + "\n")
}

// parseCountLine reads "schema.table=N" (the name may hold "=").
func parseCountLine(l string) (string, int64, bool) {
	i := strings.LastIndexByte(l, '=')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(l[i+1:], 10, 64)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return l[:i], n, true
}

// parseCounts reads countTablesSQL's output.
func parseCounts(out string) (map[string]int64, error) {
	counts := map[string]int64{}
	for l := range strings.SplitSeq(out, "\n") {
		if l = strings.TrimRight(l, "\r"); l == "" {
			continue
		}
		table, n, ok := parseCountLine(l)
		if !ok {
			return nil, fmt.Errorf("unexpected line in the row counts: %q", l)
		}
		counts[table] = n
	}
	return counts, nil
}

// dumpPostgresCounted writes the service's dump to w (as dumpService does)
// and returns the row count of every table in the dump's snapshot.
func (m *Manager) dumpPostgresCounted(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, w io.Writer) (map[string]int64, error) {
	id, err := m.runningService(ctx, eng, svc)
	if err != nil {
		return nil, err
	}
	stderr := &countedStderr{counts: map[string]int64{}}
	cmd := []string{"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", dbName(svc.Name)}
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: cmd, Env: sk.execEnv(svc), Stdin: strings.NewReader(countedDumpScript(dbName(svc.Name))), Stdout: w, Stderr: stderr})
	if err != nil {
		return nil, fmt.Errorf("pg_dump: %w", err)
	}
	if len(stderr.partial) > 0 {
		stderr.line(string(stderr.partial))
	}
	switch {
	case code != 0:
		return nil, toolError("psql (pg_dump's snapshot)", code, stderr.other.String())
	case stderr.exit == "":
		return nil, toolError("pg_dump", -1, stderr.other.String())
	case stderr.exit != "0":
		n, _ := strconv.Atoi(stderr.exit)
		return nil, toolError("pg_dump", n, stderr.other.String())
	}
	return stderr.counts, nil
}

// countedFile is a backup file and its row counts (nil: not counted).
type countedFile struct {
	api.BackupFile
	counts map[string]int64
}

// countDiff is the comparison of a drill: every table on either side,
// sorted, and how many differ.
type countDiff struct {
	Tables  []api.TableCount
	Differ  int
	Rows    int64 // rows restored
	Example string
}

// compareCounts compares the counts recorded at backup time with those
// found after the restore. A table on one side only differs (-1 on the
// other).
func compareCounts(recorded, restored map[string]int64) countDiff {
	names := map[string]bool{}
	for t := range recorded {
		names[t] = true
	}
	for t := range restored {
		names[t] = true
	}
	var d countDiff
	for _, t := range slices.Sorted(maps.Keys(names)) {
		tc := api.TableCount{Table: t, Recorded: -1, Restored: -1}
		if n, ok := recorded[t]; ok {
			tc.Recorded = n
		}
		if n, ok := restored[t]; ok {
			tc.Restored = n
			d.Rows += n
		}
		if tc.Recorded != tc.Restored {
			d.Differ++
			if d.Example == "" {
				d.Example = describeDiff(tc)
			}
		}
		d.Tables = append(d.Tables, tc)
	}
	return d
}

func describeDiff(tc api.TableCount) string {
	switch {
	case tc.Restored < 0:
		return fmt.Sprintf("%s is missing after the restore (%d rows recorded)", tc.Table, tc.Recorded)
	case tc.Recorded < 0:
		return fmt.Sprintf("%s was not in the backup's record (%d rows restored)", tc.Table, tc.Restored)
	}
	return fmt.Sprintf("%s: %d rows recorded, %d restored", tc.Table, tc.Recorded, tc.Restored)
}

// writeCountTable prints a drill's table.
func writeCountTable(w io.Writer, tables []api.TableCount, compared bool) {
	width := len("TABLE")
	for _, t := range tables {
		width = max(width, len(t.Table))
	}
	num := func(n int64) string {
		if n < 0 {
			return "-"
		}
		return strconv.FormatInt(n, 10)
	}
	fmt.Fprintf(w, "       %-*s  %12s  %12s\n", width, "TABLE", "RECORDED", "RESTORED")
	for _, t := range tables {
		mark := ""
		switch {
		case !compared:
		case t.Recorded == t.Restored:
			mark = "  ok"
		default:
			mark = "  DIFFERS"
		}
		fmt.Fprintf(w, "       %-*s  %12s  %12s%s\n", width, t.Table, num(t.Recorded), num(t.Restored), mark)
	}
}

// resolveBackup finds a backup as backup-restore and backup-verify take
// it: a name in the scheduled directory or bucket, an absolute path, or
// s3://BUCKET[/PREFIX]/NAME; "" is the newest backup of the scheduled
// target when newest is set.
func (m *Manager) resolveBackup(ctx context.Context, svc store.Service, file string, newest bool) (backupTarget, string, error) {
	switch {
	case file == "" && newest:
		dir, err := m.scheduledDir(ctx, svc, "give the backup: a name from "+svc.Kind+":backup-list, an absolute path or s3://BUCKET/NAME")
		if err != nil {
			return nil, "", err
		}
		t, err := m.backupTargetFor(ctx, svc, dir, false)
		if err != nil {
			return nil, "", err
		}
		files, err := serviceBackups(t, svc.Kind, svc.Name)
		if err != nil {
			return nil, "", api.Errorf(api.CodeInternal, "List %s: %v", t, err)
		}
		if len(files) == 0 {
			return nil, "", api.Errorf(api.CodeNotFound, "%s service %s has no backups in %s", titleKind(svc.Kind), svc.Name, t)
		}
		return t, files[len(files)-1].Name, nil
	case file == "":
		return nil, "", api.Errorf(api.CodeInvalid, "Please specify a backup file: a name from %s:backup-list, an absolute path or s3://BUCKET/NAME", svc.Kind)
	case filepath.IsAbs(file):
		return localDir{filepath.Dir(file)}, filepath.Base(file), nil
	case strings.HasPrefix(file, "s3://"):
		i := strings.LastIndex(file, "/")
		if i < len("s3://") {
			return nil, "", api.Errorf(api.CodeInvalid, "Backup file %q: give s3://BUCKET[/PREFIX]/NAME", file)
		}
		t, err := m.backupTargetFor(ctx, svc, file[:i], false)
		return t, file[i+1:], err
	case strings.Contains(file, "/"):
		return nil, "", api.Errorf(api.CodeInvalid, "Backup file %q: give a name from %s:backup-list, an absolute path or s3://BUCKET/NAME", file, svc.Kind)
	}
	dir, err := m.scheduledDir(ctx, svc, "give the backup file's absolute path or s3://BUCKET/NAME")
	if err != nil {
		return nil, "", err
	}
	t, err := m.backupTargetFor(ctx, svc, dir, false)
	return t, file, err
}

// openBackupFile opens a backup for reading its plain dump: an S3 backup's
// checksum is checked first, an encrypted one is decrypted with the
// request's key or the service's own passphrase (a wrong key fails here).
func (m *Manager) openBackupFile(t backupTarget, name string, passphrase, identity string, svc store.Service, out io.Writer) (io.Reader, io.Closer, error) {
	where := targetPath(t, name)
	own, _, err := m.backupEncryption(svc)
	if err != nil {
		return nil, nil, api.Errorf(api.CodeInternal, "Backup encryption setting unreadable: %v", err)
	}
	ids, err := decryptIdentities(passphrase, identity, own)
	if err != nil {
		return nil, nil, err
	}
	if c, ok := t.(interface {
		Check(name string) (string, error)
	}); ok {
		sum, err := c.Check(name)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, api.Errorf(api.CodeNotFound, "Backup file %s does not exist", where)
		}
		if err != nil {
			return nil, nil, api.Errorf(api.CodeInvalid, "Backup file %s failed its check: %v; nothing was changed", where, err)
		}
		if sum != "" {
			fmt.Fprintf(out, "       Checksum verified: sha256 %s\n", sum)
		}
	}
	f, err := t.Open(name)
	if err != nil {
		return nil, nil, api.Errorf(api.CodeNotFound, "Backup file %s cannot be opened: %v", where, err)
	}
	if st, ok := f.(*os.File); ok {
		if info, err := st.Stat(); err == nil && !info.Mode().IsRegular() {
			f.Close()
			return nil, nil, api.Errorf(api.CodeInvalid, "Backup file %s is not a regular file", where)
		}
	}
	dump, err := openBackup(f, where, ids)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return dump, f, nil
}

func (m *Manager) serviceBackupVerify(ctx context.Context, req api.ServiceBackupVerify, out api.Output) (api.BackupDrill, error) {
	sk, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.BackupDrill{}, err
	}
	if sk.name != "postgres" {
		return api.BackupDrill{}, api.Errorf(api.CodeInvalid, "Restore drills are for postgres services (%s:backup-verify is not there yet)", sk.name)
	}
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	t, name, err := m.resolveBackup(ctx, svc, req.File, true)
	if err != nil {
		return api.BackupDrill{}, err
	}
	d, err := m.drill(ctx, sk, svc, t, name, req.Passphrase, req.Identity, false, out.Stdout)
	if err != nil {
		return d, err
	}
	return d, nil
}

// drill restores the backup name of t into a throw-away container,
// compares the counts, prints the table to w and records the outcome.
// A drill that did not pass is an error: one line saying why.
func (m *Manager) drill(ctx context.Context, sk serviceKind, svc store.Service, t backupTarget, name, passphrase, identity string, scheduled bool, w io.Writer) (api.BackupDrill, error) {
	where := targetPath(t, name)
	d := api.BackupDrill{File: where, Scheduled: scheduled}
	fmt.Fprintf(w, "-----> Restore drill of %s service %s from %s\n", svc.Kind, svc.Name, where)
	err := m.runDrill(ctx, sk, svc, t, name, passphrase, identity, &d, w)
	d.At = m.now().UTC()
	d.OK = err == nil
	if err != nil {
		d.Error = err.Error()
	}
	// A drill its caller interrupted (Ctrl-C, the daemon stopping) says
	// nothing of the backup: it is not recorded.
	if !errors.Is(ctx.Err(), context.Canceled) {
		rec := store.BackupDrill{ServiceID: svc.ID, At: d.At, File: where, Scheduled: scheduled, OK: d.OK, Tables: d.Tables, Rows: d.Rows, Compared: d.Compared, Error: d.Error}
		if rerr := m.store.Tx(context.WithoutCancel(ctx), func(tx *store.Tx) error { return tx.AddBackupDrill(rec) }); rerr != nil {
			m.log.Error("restore drill not recorded", "kind", svc.Kind, "name", svc.Name, "err", rerr)
		}
	}
	if err != nil {
		m.log.Error("restore drill failed", "kind", svc.Kind, "name", svc.Name, "file", where, "scheduled", scheduled, "err", err)
		code := api.CodeInvalid
		var ae *api.Error
		if errors.As(err, &ae) {
			code = ae.Code
		}
		return d, api.Errorf(code, "Restore drill of %s service %s from %s failed: %v", svc.Kind, svc.Name, name, err)
	}
	m.log.Info("restore drill passed", "kind", svc.Kind, "name", svc.Name, "file", where, "tables", d.Tables, "rows", d.Rows, "compared", d.Compared)
	if d.Compared {
		fmt.Fprintf(w, "=====> Restore drill passed: %d tables, %d rows, every count as recorded at backup time\n", d.Tables, d.Rows)
	} else {
		fmt.Fprintf(w, "=====> Restore drill passed: the backup restores (%d tables, %d rows); no counts were recorded with it to compare\n", d.Tables, d.Rows)
	}
	return d, nil
}

// runDrill is drill's work: open, restore, count, compare.
func (m *Manager) runDrill(ctx context.Context, sk serviceKind, svc store.Service, t backupTarget, name, passphrase, identity string, d *api.BackupDrill, w io.Writer) error {
	var recorded map[string]int64
	err := m.store.Tx(ctx, func(tx *store.Tx) (err error) {
		recorded, d.Compared, err = tx.BackupCounts(svc, d.File)
		return err
	})
	if err != nil {
		return err
	}
	dump, f, err := m.openBackupFile(t, name, passphrase, identity, svc, w)
	if err != nil {
		return errors.New(strings.TrimSuffix(firstErrLine(err), "; nothing was changed"))
	}
	defer f.Close()
	eng, err := m.engine(ctx)
	if err != nil {
		return err
	}
	restored, err := m.restoreThrowaway(ctx, eng, sk, svc, dump, w)
	if err != nil {
		return err
	}
	if !d.Compared {
		// Nothing to compare: the restore's own tables.
		recorded = restored
	}
	diff := compareCounts(recorded, restored)
	d.Counts, d.Tables, d.Rows = diff.Tables, len(diff.Tables), diff.Rows
	writeCountTable(w, diff.Tables, d.Compared)
	switch {
	case diff.Differ == 1:
		return fmt.Errorf("1 of %d tables differs from the counts recorded at backup time (%s)", len(diff.Tables), diff.Example)
	case diff.Differ > 1:
		return fmt.Errorf("%d of %d tables differ from the counts recorded at backup time (%s, ...)", diff.Differ, len(diff.Tables), diff.Example)
	}
	return nil
}

func firstErrLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// drillContainer is the throw-away container's name: the service's
// container name with berth-drill in place of berth, and a random end.
func (m *Manager) drillContainer(svc store.Service) string {
	base := m.serviceContainer(svc)
	return strings.Replace(base, "berth."+svc.Kind+".", "berth-drill."+svc.Kind+".", 1) + "." + randomHex(3)
}

// restoreThrowaway restores dump into a new container of the service's
// image (no network, no published port, its data in an anonymous volume)
// and returns the row counts found there. The container is removed
// before it returns, whatever happened (a cancelled request included).
func (m *Manager) restoreThrowaway(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, dump io.Reader, w io.Writer) (map[string]int64, error) {
	if err := ensureImage(ctx, eng, svc.Image, api.Output{Stdout: w}); err != nil {
		return nil, err
	}
	tmp := svc
	tmp.Password = randomHex(sk.passwordBytes)
	env := sk.env(tmp)
	custom, _ := parseCustomEnv(svc.CustomEnv)
	env = append(env, custom...)
	labels := m.names.ServiceLabels(svc.Kind, svc.Name)
	labels["berth.kind"] = drillKind
	spec := docker.ContainerSpec{Name: m.drillContainer(svc), Image: svc.Image, Env: env, Labels: labels, Network: "none",
		Memory: svc.Memory, ShmSize: svc.ShmSize}
	if sk.cmd != nil {
		spec.Cmd = sk.cmd(tmp)
	}
	fmt.Fprintf(w, "       Starting a throw-away %s container (%s)\n", svc.Image, spec.Name)
	m.drills.Store(spec.Name, true)
	defer m.drills.Delete(spec.Name)
	id, err := eng.CreateContainer(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("throw-away container: %w", err)
	}
	defer func() {
		if err := eng.RemoveContainer(context.WithoutCancel(ctx), id, true); err != nil {
			m.log.Error("restore drill: throw-away container not removed", "container", spec.Name, "err", err)
		}
	}()
	if err := eng.StartContainer(ctx, id); err != nil {
		return nil, fmt.Errorf("throw-away container: %w", err)
	}
	if err := m.waitService(ctx, eng, sk, tmp, id); err != nil {
		return nil, fmt.Errorf("the throw-away container did not become ready: %s", firstErrLine(err))
	}
	fmt.Fprintf(w, "       Restoring the backup into it\n")
	var stderr headBuffer
	cmd := []string{"pg_restore", "-U", "postgres", "-d", dbName(svc.Name), "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction"}
	if err := checkPGDump(dump, &dump); err != nil {
		return nil, err
	}
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: cmd, Env: sk.execEnv(tmp), Stdin: dump, Stdout: io.Discard, Stderr: &stderr})
	if err != nil {
		return nil, fmt.Errorf("pg_restore: %w", err)
	}
	if code != 0 {
		return nil, fmt.Errorf("the backup does not restore: %v", toolError("pg_restore", code, stderr.String()))
	}
	fmt.Fprintf(w, "       Counting rows\n")
	var stdout bytes.Buffer
	stderr.Reset()
	code, err = eng.Exec(ctx, id, docker.ExecOptions{Cmd: []string{"psql", "-X", "-U", "postgres", "-d", dbName(svc.Name), "-Atc", countTablesSQL}, Env: sk.execEnv(tmp), Stdout: &stdout, Stderr: &stderr})
	if err == nil && code != 0 {
		err = toolError("psql", code, stderr.String())
	}
	if err != nil {
		return nil, fmt.Errorf("counting rows: %w", err)
	}
	return parseCounts(stdout.String())
}

// checkPGDump refuses a dump that is not pg_dump's custom format; *r is
// replaced by a reader that still starts at the beginning.
func checkPGDump(r io.Reader, out *io.Reader) error {
	head := make([]byte, 5)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the backup: %w", err)
	}
	if string(head[:n]) != "PGDMP" {
		return errors.New("the backup is not a pg_dump custom-format archive")
	}
	*out = io.MultiReader(bytes.NewReader(head[:n]), r)
	return nil
}

// RemoveLeftoverDrills removes the throw-away containers of drills a crash
// interrupted. The daemon calls it once at start.
func (m *Manager) RemoveLeftoverDrills(ctx context.Context) {
	eng, err := m.engine(ctx)
	if err != nil {
		return
	}
	cs, err := eng.ListContainers(ctx, map[string]string{"berth.instance": m.names.Instance(), "berth.kind": drillKind}, true)
	if err != nil {
		m.log.Warn("restore drills: leftover containers not listed", "err", err)
		return
	}
	for _, c := range cs {
		if _, running := m.drills.Load(c.Name); running {
			continue
		}
		if err := eng.RemoveContainer(ctx, c.ID, true); err != nil {
			m.log.Warn("restore drills: leftover container not removed", "container", c.Name, "err", err)
			continue
		}
		m.log.Info("restore drills: leftover container removed", "container", c.Name)
	}
}

// lastDrill is the service's latest drill for info (nil: none).
func (m *Manager) lastDrill(tx *store.Tx, svc store.Service) (*api.BackupDrill, error) {
	d, ok, err := tx.LastBackupDrill(svc)
	if err != nil || !ok {
		return nil, err
	}
	return &api.BackupDrill{At: d.At.UTC(), File: d.File, Scheduled: d.Scheduled, OK: d.OK, Compared: d.Compared, Tables: d.Tables, Rows: d.Rows, Error: d.Error}, nil
}

// checkDrillable refuses --verify on a schedule whose drills could not
// run: not postgres, or backups encrypted to age recipients (the daemon has
// no identity to decrypt them).
func (m *Manager) checkDrillable(svc store.Service) error {
	if svc.Kind != "postgres" {
		return api.Errorf(api.CodeInvalid, "--verify: restore drills are for postgres services")
	}
	enc, ok, err := m.backupEncryption(svc)
	if err != nil {
		return api.Errorf(api.CodeInternal, "Backup encryption setting unreadable: %v", err)
	}
	if ok && enc.Passphrase == "" && len(enc.Recipients) > 0 {
		return api.Errorf(api.CodeInvalid, "--verify: %s service %s's backups are encrypted to age recipients, and the daemon has no identity to decrypt them for a drill; run %s:backup-verify %s with --identity-file instead", svc.Kind, svc.Name, svc.Kind, svc.Name)
	}
	return nil
}

// scheduledDrill is the drill after a scheduled backup (--verify): with
// the service's own passphrase, when its backups are encrypted with one.
func (m *Manager) scheduledDrill(ctx context.Context, sk serviceKind, svc store.Service, t backupTarget, file api.BackupFile) error {
	_, err := m.drill(ctx, sk, svc, t, file.Name, "", "", true, io.Discard)
	return err
}
