package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// This file holds the data commands of services: export, import and clone,
// and the two primitives under them (and under backups), dumpService and
// restoreService. Callers hold the service's lock.

// registerServiceData registers the data and backup operations.
func (s *Service) registerServiceData(m *api.Mux) {
	api.HandleSession(m, api.ServicesExport, s.serviceExport)
	api.HandleSession(m, api.ServicesImport, s.serviceImport)
	api.Handle(m, api.ServicesClone, s.serviceClone)
	api.Handle(m, api.ServicesBackup, s.serviceBackup)
	api.Handle(m, api.ServicesBackupSchedule, s.serviceBackupSchedule)
	api.Handle(m, api.ServicesBackupUnschedule, s.serviceBackupUnschedule)
	api.Handle(m, api.ServicesBackupScheduleCat, s.serviceBackupScheduleCat)
	api.Handle(m, api.ServicesBackupList, s.serviceBackupList)
	api.Handle(m, api.ServicesBackupRestore, s.serviceBackupRestore)
}

// dumpExt is the file extension of a kind's dumps.
func dumpExt(kind string) string {
	if kind == "redis" {
		return "rdb"
	}
	return "dump"
}

// runningService returns the ID of the service's container, or a clear
// error when it is not running.
func (s *Service) runningService(ctx context.Context, eng serviceEngine, svc store.Service) (string, error) {
	det, err := eng.InspectContainer(ctx, s.serviceContainer(svc))
	if err != nil && !errors.Is(err, docker.ErrNotFound) {
		return "", err
	}
	if err != nil || det.State != "running" {
		return "", api.Errorf(api.CodeUnavailable, "%s service %s is not running; start it with %s:start %s", titleKind(svc.Kind), svc.Name, svc.Kind, svc.Name)
	}
	return det.ID, nil
}

// headBuffer keeps the first 64 KiB written to it (a tool's stderr).
type headBuffer struct{ bytes.Buffer }

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// toolError is the one-line error of a tool that exited with code: its
// first error line, else its last line of output.
func toolError(tool string, code int, stderr string) error {
	var first, last string
	for line := range strings.SplitSeq(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		last = line
		if first == "" && (strings.Contains(line, "error:") || strings.Contains(line, "ERR") || strings.Contains(line, "FATAL")) {
			first = line
		}
	}
	msg := first
	if msg == "" {
		msg = last
	}
	if len(msg) > 400 {
		msg = msg[:400] + "..."
	}
	if msg == "" {
		return fmt.Errorf("%s failed (exit %d)", tool, code)
	}
	return fmt.Errorf("%s failed (exit %d): %s", tool, code, msg)
}

// dumpService writes a dump of the service to w: pg_dump's custom format
// for postgres, an RDB snapshot for redis. Only the dump goes to w.
func (s *Service) dumpService(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, w io.Writer) error {
	id, err := s.runningService(ctx, eng, svc)
	if err != nil {
		return err
	}
	var stderr headBuffer
	switch sk.name {
	case "postgres":
		code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: []string{"pg_dump", "-Fc", "-U", "postgres", dbName(svc.Name)}, Env: sk.execEnv(svc), Stdout: w, Stderr: &stderr})
		if err != nil {
			return fmt.Errorf("pg_dump: %w", err)
		}
		if code != 0 {
			return toolError("pg_dump", code, stderr.String())
		}
		return nil
	case "redis":
		hb := &rdbStream{w: w}
		code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: []string{"redis-cli", "--rdb", "-"}, Env: sk.execEnv(svc), Stdout: hb, Stderr: &stderr})
		if err != nil {
			return fmt.Errorf("redis-cli --rdb: %w", err)
		}
		if code != 0 {
			return toolError("redis-cli --rdb", code, stderr.String())
		}
		return hb.finish(strings.Contains(stderr.String(), "until EOF marker"))
	}
	return api.Errorf(api.CodeInvalid, "%s services cannot be dumped", sk.name)
}

// rdbEOFMarkLen is the length of the EOF mark of a diskless replication
// transfer.
const rdbEOFMarkLen = 40

// rdbStream passes an RDB stream through, holding back its last 40 bytes:
// redis-cli --rdb - also writes the EOF mark that ends a diskless transfer
// (it truncates a file after the transfer, but cannot truncate stdout).
type rdbStream struct {
	w    io.Writer
	head []byte
	tail []byte
	n    int64
}

func (r *rdbStream) Write(p []byte) (int, error) {
	if len(r.head) < 9 {
		r.head = append(r.head, p[:min(9-len(r.head), len(p))]...)
	}
	r.n += int64(len(p))
	r.tail = append(r.tail, p...)
	if over := len(r.tail) - rdbEOFMarkLen; over > 0 {
		if _, err := r.w.Write(r.tail[:over]); err != nil {
			return 0, err
		}
		r.tail = append(r.tail[:0], r.tail[over:]...)
	}
	return len(p), nil
}

// finish writes what was held back, less the EOF mark when the transfer
// had one, and checks that the stream was an RDB file.
func (r *rdbStream) finish(marked bool) error {
	if !isRDB(r.head) {
		return fmt.Errorf("redis-cli --rdb did not write an RDB file (%d bytes)", r.n)
	}
	if len(r.tail) == 0 || marked && len(r.tail) == rdbEOFMarkLen && isHexLower(r.tail) {
		return nil
	}
	_, err := r.w.Write(r.tail)
	return err
}

func isHexLower(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isRDB reports whether head starts an RDB file: "REDIS" and a 4-digit
// version.
func isRDB(head []byte) bool {
	if len(head) < 9 || string(head[:5]) != "REDIS" {
		return false
	}
	for _, c := range head[5:9] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// restoreService replaces the service's data with a dump read from r (as
// dumpService writes it). A dump that cannot be restored leaves the data
// as it was: postgres restores in one transaction; redis keeps the old data
// files until the new data is loaded and saved.
func (s *Service) restoreService(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, r io.Reader, out api.Output) error {
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	if out.Stderr == nil {
		out.Stderr = io.Discard
	}
	switch sk.name {
	case "postgres":
		return s.restorePostgres(ctx, eng, sk, svc, r, out)
	case "redis":
		return s.restoreRedis(ctx, eng, sk, svc, r, out)
	}
	return api.Errorf(api.CodeInvalid, "%s services cannot be restored", sk.name)
}

func (s *Service) restorePostgres(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, r io.Reader, out api.Output) error {
	id, err := s.runningService(ctx, eng, svc)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(5)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the dump: %w", err)
	}
	if string(head) != "PGDMP" {
		return api.Errorf(api.CodeInvalid, "the input is not a pg_dump custom-format archive (%s:export and backups write that format; plain SQL goes through %s:connect); nothing was changed", svc.Kind, svc.Kind)
	}
	fmt.Fprintf(out.Stdout, "       Restoring into database %s (one transaction)\n", dbName(svc.Name))
	var stderr headBuffer
	// One transaction: a dump that fails part-way changes nothing.
	cmd := []string{"pg_restore", "-U", "postgres", "-d", dbName(svc.Name), "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction"}
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: cmd, Env: sk.execEnv(svc), Stdin: br, Stdout: out.Stdout, Stderr: &stderr})
	if err != nil {
		return fmt.Errorf("pg_restore: %w", err)
	}
	if code != 0 {
		return api.Errorf(api.CodeInvalid, "%v; the database was left as it was", toolError("pg_restore", code, stderr.String()))
	}
	if stderr.Len() > 0 { // warnings (an empty write would end an API stream)
		out.Stderr.Write(stderr.Bytes())
	}
	return nil
}

// redisImportTimeout bounds the loading of an imported RDB and the rewrite
// of the append-only file from it.
var redisImportTimeout = 10 * time.Minute

// restoreRedis replaces a redis service's data with an RDB file. With
// appendonly on, redis ignores a dump.rdb when it finds no append-only
// files, so the RDB is loaded by a temporary server with appendonly off,
// which then writes the append-only files from it (CONFIG SET appendonly
// yes); the service's own container then starts on them. The old data
// directory stays aside until that worked, and comes back otherwise.
func (s *Service) restoreRedis(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, r io.Reader, out api.Output) error {
	root := s.serviceRoot(svc.Kind, svc.Name)
	data := s.serviceDataDir(svc)
	aside := filepath.Join(root, "data.before-import")
	if _, err := os.Stat(aside); err == nil {
		return api.Errorf(api.CodeConflict, "%s exists: an earlier import was interrupted; it holds the data from before that import; move it away (or back to %s) first", aside, data)
	}
	// The whole RDB first: a broken upload changes nothing.
	tmp, err := os.CreateTemp(root, ".import-*.rdb")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("receive the RDB file: %w", err)
	}
	head := make([]byte, 9)
	if f, err := os.Open(tmp.Name()); err == nil {
		io.ReadFull(f, head)
		f.Close()
	}
	if !isRDB(head) {
		return api.Errorf(api.CodeInvalid, "the input (%d bytes) is not an RDB file (%s:export and backups write one); nothing was changed", n, svc.Kind)
	}
	st, err := os.Stat(data)
	if err != nil {
		return err
	}
	uid, gid := -1, -1
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		uid, gid = int(sys.Uid), int(sys.Gid)
	}
	fmt.Fprintf(out.Stdout, "       Received %d bytes; stopping the service\n", n)
	if err := s.stopService(ctx, eng, svc, api.Output{Stdout: io.Discard}); err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)
	if err := eng.RemoveContainer(ctx, s.serviceContainer(svc), true); err != nil && !errors.Is(err, docker.ErrNotFound) {
		if rerr := s.runService(bg, eng, sk, svc, api.Output{Stdout: io.Discard}); rerr != nil {
			s.log.Error("service not restarted after a failed import", "kind", svc.Kind, "name", svc.Name, "err", rerr)
		}
		return err
	}
	tmpName := s.serviceContainer(svc) + "-import"
	// From here on a failure puts the old data and container back.
	if err := os.Rename(data, aside); err != nil {
		if rerr := s.runService(bg, eng, sk, svc, api.Output{Stdout: io.Discard}); rerr != nil {
			s.log.Error("service not restarted after a failed import", "kind", svc.Kind, "name", svc.Name, "err", rerr)
		}
		return err
	}
	rollback := func(cause error) error {
		// The outcome goes on the first line, before any log lines.
		first, rest, _ := strings.Cut(cause.Error(), "\n")
		if rest != "" {
			rest = "\n" + rest
		}
		eng.RemoveContainer(bg, tmpName, true)
		if err := os.RemoveAll(data); err != nil {
			s.log.Error("import: remove the new data", "kind", svc.Kind, "name", svc.Name, "err", err)
		}
		if err := os.Rename(aside, data); err != nil {
			s.log.Error("import: put the old data back", "kind", svc.Kind, "name", svc.Name, "dir", aside, "err", err)
			return fmt.Errorf("%s; and the old data could not be put back: it is in %s (%v)%s", first, aside, err, rest)
		}
		fmt.Fprintf(out.Stdout, "       Import failed; restarting the service on its old data\n")
		if err := s.runService(bg, eng, sk, svc, quiet); err != nil {
			s.log.Error("import: service not restarted on its old data", "kind", svc.Kind, "name", svc.Name, "err", err)
			return fmt.Errorf("%s; the old data is back in place but the service did not start: %v%s", first, err, rest)
		}
		return fmt.Errorf("%s; the service keeps its old data%s", first, rest)
	}
	if err := os.Mkdir(data, st.Mode().Perm()); err != nil {
		return rollback(err)
	}
	os.Chmod(data, st.Mode().Perm())
	os.Chown(data, uid, gid)
	rdb := filepath.Join(data, "dump.rdb")
	if err := os.Rename(tmp.Name(), rdb); err != nil {
		return rollback(err)
	}
	os.Chmod(rdb, 0o600)
	if err := os.Chown(rdb, uid, gid); err != nil {
		return rollback(err)
	}

	fmt.Fprintf(out.Stdout, "       Loading the RDB file\n")
	spec := s.serviceSpec(sk, svc)
	spec.Name = tmpName
	spec.Cmd = append(spec.Cmd, "--appendonly", "no")
	spec.Network, spec.NetworkAliases, spec.Ports, spec.RestartPolicy = "", nil, nil, "no"
	spec.Labels["berth.kind"] = "service-import"
	eng.RemoveContainer(bg, tmpName, true)
	id, err := eng.CreateContainer(bg, spec)
	if err != nil {
		return rollback(err)
	}
	if err := eng.StartContainer(bg, id); err != nil {
		return rollback(s.startFailed(bg, eng, svc, id, err))
	}
	if err := s.waitService(ctx, eng, sk, svc, id); err != nil {
		return rollback(s.importFailed(bg, eng, id, "the RDB file could not be loaded", err))
	}
	loaded, err := s.redisLoaded(ctx, eng, sk, svc, id)
	if err != nil {
		return rollback(s.importFailed(bg, eng, id, "the RDB file could not be loaded", err))
	}
	fmt.Fprintf(out.Stdout, "       Loaded %d keys; writing the append-only file\n", loaded)
	if err := s.redisEnableAOF(ctx, eng, sk, svc, id); err != nil {
		return rollback(s.importFailed(bg, eng, id, "the append-only file was not written", err))
	}
	if err := eng.StopContainer(bg, id, 30*time.Second); err != nil {
		return rollback(err)
	}
	eng.RemoveContainer(bg, id, true)
	if !hasAOF(data) {
		return rollback(errors.New("the append-only file was not written"))
	}
	fmt.Fprintf(out.Stdout, "=====> Starting container\n")
	if err := s.runService(ctx, eng, sk, svc, out); err != nil {
		return rollback(err)
	}
	id, err = s.runningService(ctx, eng, svc)
	if err != nil {
		return rollback(err)
	}
	got, err := s.redisLoaded(ctx, eng, sk, svc, id)
	if err != nil {
		return rollback(err)
	}
	if got == 0 && loaded > 0 {
		return rollback(fmt.Errorf("the service started without the imported keys (%d loaded from the RDB file, 0 after the restart)", loaded))
	}
	if err := os.RemoveAll(aside); err != nil {
		s.log.Error("import: remove the old data", "kind", svc.Kind, "name", svc.Name, "dir", aside, "err", err)
	}
	fmt.Fprintf(out.Stdout, "       Imported %d keys\n", got)
	return nil
}

// importFailed adds the temporary container's last log lines to an error.
func (s *Service) importFailed(ctx context.Context, eng serviceEngine, id, what string, err error) error {
	var buf strings.Builder
	eng.Logs(ctx, id, docker.LogsOptions{Tail: "8"}, &buf, &buf)
	var lines []string
	for line := range strings.SplitSeq(buf.String(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > 0 {
		return api.Errorf(api.CodeInvalid, "%s: %v\nlast lines of the redis log:\n%s", what, err, strings.Join(lines, "\n"))
	}
	return api.Errorf(api.CodeInvalid, "%s: %v", what, err)
}

// hasAOF reports whether a redis data dir has append-only files.
func hasAOF(data string) bool {
	for _, p := range []string{"appendonlydir", "appendonly.aof"} {
		if _, err := os.Stat(filepath.Join(data, p)); err == nil {
			return true
		}
	}
	return false
}

// redisCLI runs redis-cli with args in a container and returns its output.
// redis-cli exits 0 on error replies too, so those are recognized here.
func redisCLI(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, id string, args ...string) (string, error) {
	var stdout, stderr headBuffer
	code, err := eng.Exec(ctx, id, docker.ExecOptions{Cmd: append([]string{"redis-cli"}, args...), Env: sk.execEnv(svc), Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return "", err
	}
	o := strings.TrimSpace(stdout.String())
	if code != 0 {
		return "", toolError("redis-cli "+args[0], code, stderr.String()+"\n"+o)
	}
	for _, p := range []string{"ERR", "LOADING", "NOAUTH", "WRONGPASS", "MISCONF", "BUSY"} {
		if strings.HasPrefix(o, p) || strings.HasPrefix(o, "(error) "+p) {
			return "", errors.New(o)
		}
	}
	return o, nil
}

// redisInfo returns one INFO section as keys and values.
func redisInfo(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, id, section string) (map[string]string, error) {
	o, err := redisCLI(ctx, eng, sk, svc, id, "info", section)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for line := range strings.SplitSeq(o, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("redis answered INFO %s with %q", section, o)
	}
	return m, nil
}

// pollRedis calls check until it reports done, the container stops or
// redisImportTimeout passes.
func (s *Service) pollRedis(ctx context.Context, eng serviceEngine, id, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(redisImportTimeout)
	for {
		done, err := check()
		if err == nil && done {
			return nil
		}
		if det, ierr := eng.InspectContainer(ctx, id); ierr == nil && !det.Running {
			if err == nil {
				err = errors.New("redis stopped")
			}
			return fmt.Errorf("%s: redis stopped (%s): %v", what, det.Status, err)
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("still in progress")
			}
			return fmt.Errorf("%s did not finish within %s: %v", what, redisImportTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// redisLoaded waits until redis finished loading its data and returns its
// number of keys.
func (s *Service) redisLoaded(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, id string) (int64, error) {
	var keys int64
	err := s.pollRedis(ctx, eng, id, "loading", func() (bool, error) {
		info, err := redisInfo(ctx, eng, sk, svc, id, "persistence")
		if err != nil {
			return false, err
		}
		if info["loading"] != "0" || info["async_loading"] == "1" {
			return false, nil
		}
		o, err := redisCLI(ctx, eng, sk, svc, id, "dbsize")
		if err != nil {
			return false, err
		}
		keys, err = strconv.ParseInt(strings.TrimPrefix(o, "(integer) "), 10, 64)
		return err == nil, err
	})
	return keys, err
}

// redisEnableAOF turns appendonly on in a running redis and waits until the
// append-only file has been written from its data.
func (s *Service) redisEnableAOF(ctx context.Context, eng serviceEngine, sk serviceKind, svc store.Service, id string) error {
	if _, err := redisCLI(ctx, eng, sk, svc, id, "config", "set", "appendonly", "yes"); err != nil {
		return err
	}
	return s.pollRedis(ctx, eng, id, "the append-only rewrite", func() (bool, error) {
		info, err := redisInfo(ctx, eng, sk, svc, id, "persistence")
		if err != nil {
			return false, err
		}
		if st := info["aof_last_bgrewrite_status"]; st != "" && st != "ok" {
			return false, fmt.Errorf("aof_last_bgrewrite_status:%s", st)
		}
		return aofRewritten(info), nil
	})
}

// aofRewritten reports from INFO persistence whether appendonly is on and
// its first rewrite is done.
func aofRewritten(info map[string]string) bool {
	if info["aof_enabled"] != "1" || info["aof_rewrite_in_progress"] != "0" || info["aof_rewrite_scheduled"] != "0" || info["aof_last_bgrewrite_status"] != "ok" {
		return false
	}
	if n, ok := info["aof_rewrites"]; ok {
		v, err := strconv.Atoi(n)
		return err == nil && v >= 1
	}
	return info["aof_last_rewrite_time_sec"] != "" && info["aof_last_rewrite_time_sec"] != "-1"
}

func (s *Service) serviceExport(ctx context.Context, req api.ServiceRef, sess *api.Session) (api.Empty, error) {
	return api.Empty{}, s.onService(ctx, req, func(eng serviceEngine, sk serviceKind, svc store.Service) error {
		if err := s.dumpService(ctx, eng, sk, svc, sess.Stdout); err != nil {
			return exportError(svc, err)
		}
		return nil
	})
}

func exportError(svc store.Service, err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return err
	}
	return api.Errorf(api.CodeInternal, "Export of %s service %s failed: %v", svc.Kind, svc.Name, err)
}

func (s *Service) serviceImport(ctx context.Context, req api.ServiceRef, sess *api.Session) (api.Empty, error) {
	return api.Empty{}, s.onService(ctx, req, func(eng serviceEngine, sk serviceKind, svc store.Service) error {
		out := api.Output{Stdout: sess.Stdout, Stderr: sess.Stderr}
		if err := s.restoreService(ctx, eng, sk, svc, sess.Stdin, out); err != nil {
			return importError(svc, err)
		}
		s.log.Info("service data imported", "kind", svc.Kind, "name", svc.Name)
		return nil
	})
}

func importError(svc store.Service, err error) error {
	code := api.CodeInternal
	var ae *api.Error
	if errors.As(err, &ae) {
		code = ae.Code
	}
	return api.Errorf(code, "Import into %s service %s failed: %v", svc.Kind, svc.Name, err)
}

// splitImage splits "repo:tag" (a registry's host:port stays in repo).
func splitImage(ref string) (string, string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// serviceClone creates a service and copies another one's data into it;
// when the copy fails the new service is destroyed again.
func (s *Service) serviceClone(ctx context.Context, req api.ServiceClone, out api.Output) (api.ServiceInfo, error) {
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	sk, src, err := s.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	create := req.New
	create.Kind = req.Kind
	if create.Name == "" {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "Please specify a name for the new service")
	}
	if create.Name == src.Name {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "The new service must have another name than %s", src.Name)
	}
	repo, tag := splitImage(src.Image)
	if create.Image == "" {
		create.Image = repo
	}
	if create.ImageVersion == "" && create.Image == repo {
		create.ImageVersion = tag
	}
	// The source's options carry over unless a flag says otherwise.
	if create.CustomEnv == "" {
		create.CustomEnv = src.CustomEnv
	}
	if create.Memory == "" && src.Memory > 0 {
		create.Memory = fmt.Sprintf("%db", src.Memory)
	}
	if create.ShmSize == "" && src.ShmSize > 0 {
		create.ShmSize = fmt.Sprintf("%db", src.ShmSize)
	}
	fmt.Fprintf(out.Stdout, "-----> Creating %s service %s\n", req.Kind, create.Name)
	if _, err := s.serviceCreate(ctx, create, out); err != nil {
		return api.ServiceInfo{}, err
	}
	newRef := api.ServiceRef{Kind: req.Kind, Name: create.Name}
	copyErr := func() error {
		_, dst, err := s.loadService(ctx, newRef)
		if err != nil {
			return err
		}
		eng, err := s.svcEngine(ctx)
		if err != nil {
			return err
		}
		unlock := lockServices(src, dst)
		defer unlock()
		fmt.Fprintf(out.Stdout, "-----> Copying data from %s to %s\n", src.Name, dst.Name)
		return s.copyService(ctx, eng, sk, src, dst, out)
	}()
	if copyErr != nil {
		fmt.Fprintf(out.Stdout, "-----> Copy failed; destroying %s\n", create.Name)
		if _, err := s.serviceDestroy(context.WithoutCancel(ctx), newRef, quiet); err != nil {
			s.log.Error("clone: new service not destroyed after a failed copy", "kind", req.Kind, "name", create.Name, "err", err)
			return api.ServiceInfo{}, api.Errorf(api.CodeInternal, "Clone of %s into %s failed: %v; and %s could not be destroyed: %v", src.Name, create.Name, copyErr, create.Name, err)
		}
		return api.ServiceInfo{}, api.Errorf(api.CodeInternal, "Clone of %s into %s failed: %v; %s was destroyed", src.Name, create.Name, copyErr, create.Name)
	}
	s.log.Info("service cloned", "kind", req.Kind, "from", src.Name, "to", create.Name)
	return s.serviceInfo(ctx, newRef, api.Output{})
}

// lockServices locks two services in a fixed order.
func lockServices(a, b store.Service) func() {
	keys := []store.Service{a, b}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Kind+"/"+keys[i].Name < keys[j].Kind+"/"+keys[j].Name })
	u1 := lockService(keys[0].Kind, keys[0].Name)
	u2 := lockService(keys[1].Kind, keys[1].Name)
	return func() { u2(); u1() }
}

// copyService streams a dump of src into a restore of dst.
func (s *Service) copyService(ctx context.Context, eng serviceEngine, sk serviceKind, src, dst store.Service, out api.Output) error {
	pr, pw := io.Pipe()
	dumped := make(chan error, 1)
	go func() {
		err := s.dumpService(ctx, eng, sk, src, pw)
		pw.CloseWithError(err)
		dumped <- err
	}()
	rerr := s.restoreService(ctx, eng, sk, dst, pr, out)
	pr.CloseWithError(errors.New("the restore stopped reading"))
	if derr := <-dumped; derr != nil {
		return fmt.Errorf("dump of %s: %w", src.Name, derr)
	}
	return rerr
}
