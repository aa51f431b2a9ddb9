package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/failpoint"
	"github.com/berthpaas/berth/internal/fsutil"
	"github.com/berthpaas/berth/internal/store"
)

// Upgrades. Dokku's upgrade recreates the container with the new image,
// which breaks Postgres across a major version (the new server refuses the
// old data directory). Berth's:
//
//   - same major: recreate the container on the same data; if it does not
//     come up, go back to the old image.
//   - postgres across majors: dump (kept as a file), stop, move the data
//     aside, start the new version on an empty directory, restore, and
//     compare every table's row count with the old server's. Any failure
//     puts the old data and image back. The old data stays on disk after a
//     success, named in the output, for the operator to delete.
//   - redis across majors: newer servers read older RDB/AOF files, so the
//     data is copied aside and the new version opens it; the key count
//     must match. A failure puts the copy back.
//   - downgrades across majors are refused: neither server reads a newer
//     format.

// serviceUpgradeRE reads a major version out of `postgres --version`
// ("postgres (PostgreSQL) 15.20 (Debian ...)") and `redis-server
// --version` ("Redis server v=7.0.15 sha=...").
var serviceVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:PostgreSQL\)|v=)\s*(\d+)\.(\d+)`) })

// parseMajor returns the major version in a server's --version output.
func parseMajor(out string) (int, error) {
	m := serviceVersionRE().FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no version in %q", strings.TrimSpace(out))
	}
	return strconv.Atoi(m[1])
}

// imageMajor runs the kind's version command in a throw-away container of
// image.
func (m *Manager) imageMajor(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, image string) (int, error) {
	cmd := sk.versionCmd(svc)
	id, err := eng.CreateContainer(ctx, docker.ContainerSpec{Image: image, Entrypoint: cmd[:1], Cmd: cmd[1:], Network: "none",
		Labels: map[string]string{"berth.instance": m.names.Instance(), "berth.kind": "service-probe"}})
	if err != nil {
		return 0, err
	}
	defer eng.RemoveContainer(context.WithoutCancel(ctx), id, true)
	if err := eng.StartContainer(ctx, id); err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := eng.Wait(wctx, id); err != nil {
		return 0, err
	}
	var out bytes.Buffer
	eng.Logs(ctx, id, docker.LogsOptions{}, &out, &out)
	return parseMajor(out.String())
}

// upgradeImage is the image an upgrade moves to: the flags over the
// service's current repository and tag.
func upgradeImage(current, image, version string) string {
	repo, tag := current, ""
	if i := strings.LastIndex(current, ":"); i > strings.LastIndex(current, "/") {
		repo, tag = current[:i], current[i+1:]
	}
	if image != "" {
		repo = image
	}
	if version != "" {
		tag = version
	}
	if tag == "" {
		return repo
	}
	return repo + ":" + tag
}

func (m *Manager) serviceUpgrade(ctx context.Context, req api.ServiceUpgrade, out api.Output) (api.ServiceInfo, error) {
	sk, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	if req.Image == "" && req.ImageVersion == "" {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "Please specify --image-version (and/or --image) to upgrade to")
	}
	target := upgradeImage(svc.Image, req.Image, req.ImageVersion)
	if target == svc.Image {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "%s service %s already runs %s", titleKind(svc.Kind), svc.Name, target)
	}
	defer m.lock(svc.Kind, svc.Name)()
	eng, err := m.engine(ctx)
	if err != nil {
		return api.ServiceInfo{}, err
	}
	if err := ensureImage(ctx, eng, target, out); err != nil {
		return api.ServiceInfo{}, err
	}
	oldMajor, err := m.imageMajor(ctx, eng, sk, svc, svc.Image)
	if err != nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "cannot tell the version of %s: %v", svc.Image, err)
	}
	newMajor, err := m.imageMajor(ctx, eng, sk, svc, target)
	if err != nil {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "cannot tell the version of %s (is it a %s image?): %v", target, svc.Kind, err)
	}
	if newMajor < oldMajor {
		return api.ServiceInfo{}, api.Errorf(api.CodeInvalid, "Refusing to downgrade %s service %s from %d to %d: %s %d cannot read %d's data; restore a backup into a new service instead", svc.Kind, svc.Name, oldMajor, newMajor, svc.Kind, newMajor, oldMajor)
	}
	fmt.Fprintf(out.Stdout, "-----> Upgrading %s from %s (%d) to %s (%d)\n", svc.Name, svc.Image, oldMajor, target, newMajor)
	next := svc
	next.Image = target
	switch {
	case newMajor == oldMajor:
		err = m.upgradeInPlace(ctx, eng, sk, svc, next, out)
	case svc.Kind == "postgres":
		err = m.upgradePostgresMajor(ctx, eng, sk, svc, next, oldMajor, out)
	default:
		err = m.upgradeCopy(ctx, eng, sk, svc, next, oldMajor, out)
	}
	if err != nil {
		m.log.Error("service upgrade failed", "kind", svc.Kind, "name", svc.Name, "from", svc.Image, "to", target, "err", err)
		return api.ServiceInfo{}, err
	}
	if err := m.store.Tx(ctx, func(tx *store.Tx) error { return tx.UpdateService(next) }); err != nil {
		return api.ServiceInfo{}, err
	}
	m.log.Info("service upgraded", "kind", svc.Kind, "name", svc.Name, "from", svc.Image, "to", target)
	fmt.Fprintf(out.Stdout, "=====> %s service %s upgraded to %s\n", titleKind(svc.Kind), svc.Name, target)
	if req.RestartApps {
		var links []store.Link
		m.store.Tx(ctx, func(tx *store.Tx) (err error) { links, err = tx.ServiceLinks(svc); return err })
		for _, l := range links {
			if err := m.restartLinked(ctx, l.App, false, out); err != nil {
				return api.ServiceInfo{}, err
			}
		}
	}
	return m.serviceInfo(ctx, req.ServiceRef, api.Output{})
}

func (m *Manager) upgradeInPlace(ctx context.Context, eng Engine, sk serviceKind, old, next store.Service, out api.Output) error {
	fmt.Fprintf(out.Stdout, "       Same major version: recreating the container on the same data\n")
	return m.replaceService(ctx, eng, sk, old, next, "upgrade", out)
}

// asideDir is where an upgrade keeps the old data.
func (m *Manager) asideDir(svc store.Service, major int) string {
	return filepath.Join(m.serviceRoot(svc.Kind, svc.Name), fmt.Sprintf("data.%d.%s", major, time.Now().UTC().Format("20060102-150405")))
}

// rowCountsSQL lists every user table with its exact row count.
const rowCountsSQL = `SELECT format('%I.%I', schemaname, relname) || '=' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, relname), false, true, '')))[1]::text FROM pg_stat_user_tables ORDER BY 1`

func (m *Manager) pgRowCounts(ctx context.Context, eng Engine, svc store.Service) (string, error) {
	var stdout, stderr bytes.Buffer
	code, err := eng.Exec(ctx, m.serviceContainer(svc), docker.ExecOptions{Cmd: []string{"psql", "-U", "postgres", "-d", dbName(svc.Name), "-Atc", rowCountsSQL}, Stdout: &stdout, Stderr: &stderr})
	if err == nil && code != 0 {
		err = fmt.Errorf("psql exited with %d: %s", code, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

func (m *Manager) upgradePostgresMajor(ctx context.Context, eng Engine, sk serviceKind, old, next store.Service, oldMajor int, out api.Output) error {
	root := m.serviceRoot(old.Kind, old.Name)
	dumpPath := filepath.Join(root, fmt.Sprintf("upgrade-from-%d-%s.dump", oldMajor, time.Now().UTC().Format("20060102-150405")))
	fmt.Fprintf(out.Stdout, "       Dumping %s to %s\n", old.Name, dumpPath)
	f, err := os.OpenFile(dumpPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = m.dumpService(ctx, eng, sk, old, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dumpPath)
		return api.Errorf(api.CodeUnavailable, "dump failed, nothing changed: %v", err)
	}
	before, err := m.pgRowCounts(ctx, eng, old)
	if err != nil {
		return api.Errorf(api.CodeUnavailable, "counting rows failed, nothing changed: %v", err)
	}
	// From here on the old server is down: every failure goes back.
	if err := m.stopService(ctx, eng, old, quiet); err != nil {
		return err
	}
	aside := m.asideDir(old, oldMajor)
	if err := m.rename(m.serviceDataDir(old), aside); err != nil {
		return m.rollbackTo(ctx, eng, sk, old, out, "upgrade", err)
	}
	back := func(cause error) error {
		return m.upgradeBack(ctx, eng, sk, old, aside, out, cause)
	}
	fmt.Fprintf(out.Stdout, "       Starting %s on a new data directory\n", next.Image)
	if err := m.runService(ctx, eng, sk, next, out); err != nil {
		return back(err)
	}
	fmt.Fprintf(out.Stdout, "       Restoring the dump\n")
	dump, err := os.Open(dumpPath)
	if err != nil {
		return back(err)
	}
	err = m.restoreService(ctx, eng, sk, next, dump, quiet)
	dump.Close()
	if err != nil {
		return back(fmt.Errorf("restore: %w", err))
	}
	if err := upgradeFailpoint("postgres-verify"); err != nil {
		return back(err)
	}
	after, err := m.pgRowCounts(ctx, eng, next)
	if err != nil {
		return back(err)
	}
	if after != before {
		return back(fmt.Errorf("row counts differ after the restore (were writers still running?): before %q, after %q", strings.TrimSpace(before), strings.TrimSpace(after)))
	}
	fmt.Fprintf(out.Stdout, "       Verified: every table has the same number of rows\n")
	fmt.Fprintf(out.Stdout, "       The %d data stays in %s and the dump in %s; delete them when you are satisfied\n", oldMajor, aside, dumpPath)
	return nil
}

// upgradeCopy upgrades a redis service across majors: the new server
// opens a copy of the old data.
func (m *Manager) upgradeCopy(ctx context.Context, eng Engine, sk serviceKind, old, next store.Service, oldMajor int, out api.Output) error {
	keys := func(svc store.Service) (string, error) {
		var stdout bytes.Buffer
		code, err := eng.Exec(ctx, m.serviceContainer(svc), docker.ExecOptions{Cmd: []string{"redis-cli", "DBSIZE"}, Env: sk.execEnv(svc), Stdout: &stdout})
		if err == nil && code != 0 {
			err = fmt.Errorf("redis-cli exited with %d", code)
		}
		return strings.TrimSpace(stdout.String()), err
	}
	before, err := keys(old)
	if err != nil {
		return api.Errorf(api.CodeUnavailable, "counting keys failed, nothing changed: %v", err)
	}
	if err := m.stopService(ctx, eng, old, quiet); err != nil {
		return err
	}
	aside := m.asideDir(old, oldMajor)
	if err := fsutil.CopyTree(m.serviceDataDir(old), aside, true); err != nil {
		os.RemoveAll(aside)
		return m.rollbackTo(ctx, eng, sk, old, out, "upgrade", err)
	}
	back := func(cause error) error {
		return m.upgradeBack(ctx, eng, sk, old, aside, out, cause)
	}
	fmt.Fprintf(out.Stdout, "       Starting %s on the data (a copy stays in %s)\n", next.Image, aside)
	if err := m.runService(ctx, eng, sk, next, out); err != nil {
		return back(err)
	}
	if err := upgradeFailpoint("redis-verify"); err != nil {
		return back(err)
	}
	after, err := keys(next)
	if err != nil {
		return back(err)
	}
	if after != before {
		return back(fmt.Errorf("key count differs after the upgrade: %s before, %s after", before, after))
	}
	fmt.Fprintf(out.Stdout, "       Verified: %s keys\n", after)
	fmt.Fprintf(out.Stdout, "       The %d data stays in %s; delete it when you are satisfied\n", oldMajor, aside)
	return nil
}

// upgradeBack undoes a failed upgrade after the old server stopped: the
// new container goes, the old data (kept in aside) goes back in place and
// the old image starts on it. When the data cannot be put back, the old
// server is not started (it would start on the new data, or on none) and
// the error says where the old data is, for the operator to move it back.
func (m *Manager) upgradeBack(ctx context.Context, eng Engine, sk serviceKind, old store.Service, aside string, out api.Output, cause error) error {
	eng.RemoveContainer(context.WithoutCancel(ctx), m.serviceContainer(old), true)
	if err := m.putBack(old, aside); err != nil {
		m.log.Error("upgrade: old data not put back", "kind", old.Kind, "name", old.Name, "aside", aside, "data", m.serviceDataDir(old), "err", err)
		return api.Errorf(api.CodeUnavailable, "upgrade failed (%v) and %v", cause, err)
	}
	return m.rollbackTo(ctx, eng, sk, old, out, "upgrade", cause)
}

// putBack moves the old data from aside back to the service's data
// directory; what the new version left there is moved out of the way
// first, and removed once the old data is back.
func (m *Manager) putBack(svc store.Service, aside string) error {
	data := m.serviceDataDir(svc)
	failed := aside + ".failed-upgrade"
	if err := m.rename(data, failed); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the new version's data could not be moved out of %s (%v): the old data is in %s; move it to %s by hand, then run %s:start %s", data, err, aside, data, svc.Kind, svc.Name)
	}
	if err := m.rename(aside, data); err != nil {
		return fmt.Errorf("the old data could not be moved back from %s to %s (%v); move it there by hand, then run %s:start %s", aside, data, err, svc.Kind, svc.Name)
	}
	if err := os.RemoveAll(failed); err != nil {
		m.log.Warn("upgrade: remove the new version's data", "kind", svc.Kind, "name", svc.Name, "dir", failed, "err", err)
	}
	return nil
}

// upgradeFailpoint fails an upgrade step when BERTH_FAILPOINTS names it
// upgrade-NAME (see package failpoint): the tests' way to prove that a
// failure after the old server went down brings it back.
func upgradeFailpoint(name string) error {
	return failpoint.Hit("upgrade-" + name)
}
