package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// Redis data: reading an RDB stream from redis-cli, and importing an RDB
// file (which needs a temporary server, see restoreRedis).

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

// redisImportTimeout bounds the loading of an imported RDB and the rewrite
// of the append-only file from it.
var redisImportTimeout = 10 * time.Minute

// restoreRedis replaces a redis service's data with an RDB file. With
// appendonly on, redis ignores a dump.rdb when it finds no append-only
// files, so the RDB is loaded by a temporary server with appendonly off,
// which then writes the append-only files from it (CONFIG SET appendonly
// yes); the service's own container then starts on them. The old data
// directory stays aside until that worked, and comes back otherwise.
func (m *Manager) restoreRedis(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, r io.Reader, out api.Output) error {
	root := m.serviceRoot(svc.Kind, svc.Name)
	data := m.serviceDataDir(svc)
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
	if err := m.stopService(ctx, eng, svc, api.Output{Stdout: io.Discard}); err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)
	if err := eng.RemoveContainer(ctx, m.serviceContainer(svc), true); err != nil && !errors.Is(err, docker.ErrNotFound) {
		if rerr := m.runService(bg, eng, sk, svc, api.Output{Stdout: io.Discard}); rerr != nil {
			m.log.Error("service not restarted after a failed import", "kind", svc.Kind, "name", svc.Name, "err", rerr)
		}
		return err
	}
	tmpName := m.serviceContainer(svc) + "-import"
	// From here on a failure puts the old data and container back.
	if err := os.Rename(data, aside); err != nil {
		if rerr := m.runService(bg, eng, sk, svc, api.Output{Stdout: io.Discard}); rerr != nil {
			m.log.Error("service not restarted after a failed import", "kind", svc.Kind, "name", svc.Name, "err", rerr)
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
			m.log.Error("import: remove the new data", "kind", svc.Kind, "name", svc.Name, "err", err)
		}
		if err := os.Rename(aside, data); err != nil {
			m.log.Error("import: put the old data back", "kind", svc.Kind, "name", svc.Name, "dir", aside, "err", err)
			return fmt.Errorf("%s; and the old data could not be put back: it is in %s (%v)%s", first, aside, err, rest)
		}
		fmt.Fprintf(out.Stdout, "       Import failed; restarting the service on its old data\n")
		if err := m.runService(bg, eng, sk, svc, quiet); err != nil {
			m.log.Error("import: service not restarted on its old data", "kind", svc.Kind, "name", svc.Name, "err", err)
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
	spec := m.serviceSpec(sk, svc)
	spec.Name = tmpName
	spec.Cmd = append(spec.Cmd, "--appendonly", "no")
	// No network: it only loads a file (and answers redis-cli on its own
	// loopback); on the default bridge other containers could reach it.
	spec.Network, spec.NetworkAliases, spec.Ports, spec.RestartPolicy = "none", nil, nil, "no"
	spec.Labels["berth.kind"] = "service-import"
	eng.RemoveContainer(bg, tmpName, true)
	id, err := eng.CreateContainer(bg, spec)
	if err != nil {
		return rollback(err)
	}
	if err := eng.StartContainer(bg, id); err != nil {
		return rollback(m.startFailed(bg, eng, svc, id, err))
	}
	if err := m.waitService(ctx, eng, sk, svc, id); err != nil {
		return rollback(m.importFailed(bg, eng, id, "the RDB file could not be loaded", err))
	}
	loaded, err := m.redisLoaded(ctx, eng, sk, svc, id)
	if err != nil {
		return rollback(m.importFailed(bg, eng, id, "the RDB file could not be loaded", err))
	}
	fmt.Fprintf(out.Stdout, "       Loaded %d keys; writing the append-only file\n", loaded)
	if err := m.redisEnableAOF(ctx, eng, sk, svc, id); err != nil {
		return rollback(m.importFailed(bg, eng, id, "the append-only file was not written", err))
	}
	if err := eng.StopContainer(bg, id, 30*time.Second); err != nil {
		return rollback(err)
	}
	eng.RemoveContainer(bg, id, true)
	if !hasAOF(data) {
		return rollback(errors.New("the append-only file was not written"))
	}
	fmt.Fprintf(out.Stdout, "=====> Starting container\n")
	if err := m.runService(ctx, eng, sk, svc, out); err != nil {
		return rollback(err)
	}
	id, err = m.runningService(ctx, eng, svc)
	if err != nil {
		return rollback(err)
	}
	got, err := m.redisLoaded(ctx, eng, sk, svc, id)
	if err != nil {
		return rollback(err)
	}
	if got == 0 && loaded > 0 {
		return rollback(fmt.Errorf("the service started without the imported keys (%d loaded from the RDB file, 0 after the restart)", loaded))
	}
	if err := os.RemoveAll(aside); err != nil {
		m.log.Error("import: remove the old data", "kind", svc.Kind, "name", svc.Name, "dir", aside, "err", err)
	}
	fmt.Fprintf(out.Stdout, "       Imported %d keys\n", got)
	return nil
}

// importFailed adds the temporary container's last log lines to an error.
func (m *Manager) importFailed(ctx context.Context, eng Engine, id, what string, err error) error {
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
func redisCLI(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, id string, args ...string) (string, error) {
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
func redisInfo(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, id, section string) (map[string]string, error) {
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
func (m *Manager) pollRedis(ctx context.Context, eng Engine, id, what string, check func() (bool, error)) error {
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
func (m *Manager) redisLoaded(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, id string) (int64, error) {
	var keys int64
	err := m.pollRedis(ctx, eng, id, "loading", func() (bool, error) {
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
func (m *Manager) redisEnableAOF(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, id string) error {
	if _, err := redisCLI(ctx, eng, sk, svc, id, "config", "set", "appendonly", "yes"); err != nil {
		return err
	}
	return m.pollRedis(ctx, eng, id, "the append-only rewrite", func() (bool, error) {
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
