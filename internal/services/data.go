package services

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// This file holds the data commands of services: export, import and clone,
// and the two primitives under them (and under backups), dumpService and
// restoreService. Callers hold the service's lock.

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
func (m *Manager) dumpService(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, w io.Writer) error {
	id, err := m.runningService(ctx, eng, svc)
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

// restoreService replaces the service's data with a dump read from r (as
// dumpService writes it). A dump that cannot be restored leaves the data
// as it was: postgres restores in one transaction; redis keeps the old data
// files until the new data is loaded and saved.
func (m *Manager) restoreService(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, r io.Reader, out api.Output) error {
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	if out.Stderr == nil {
		out.Stderr = io.Discard
	}
	switch sk.name {
	case "postgres":
		return m.restorePostgres(ctx, eng, sk, svc, r, out)
	case "redis":
		return m.restoreRedis(ctx, eng, sk, svc, r, out)
	}
	return api.Errorf(api.CodeInvalid, "%s services cannot be restored", sk.name)
}

func (m *Manager) restorePostgres(ctx context.Context, eng Engine, sk serviceKind, svc store.Service, r io.Reader, out api.Output) error {
	id, err := m.runningService(ctx, eng, svc)
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

func (m *Manager) serviceExport(ctx context.Context, req api.ServiceRef, sess *api.Session) (api.Empty, error) {
	return api.Empty{}, m.onService(ctx, req, func(eng Engine, sk serviceKind, svc store.Service) error {
		if err := m.dumpService(ctx, eng, sk, svc, sess.Stdout); err != nil {
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

func (m *Manager) serviceImport(ctx context.Context, req api.ServiceRef, sess *api.Session) (api.Empty, error) {
	return api.Empty{}, m.onService(ctx, req, func(eng Engine, sk serviceKind, svc store.Service) error {
		out := api.Output{Stdout: sess.Stdout, Stderr: sess.Stderr}
		err := m.restoreService(ctx, eng, sk, svc, sess.Stdin, out)
		m.recordRestore(svc, "import", "stdin", err)
		if err != nil {
			return importError(svc, err)
		}
		m.log.Info("service data imported", "kind", svc.Kind, "name", svc.Name)
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

// serviceClone creates a service and copies another one's data into it;
// when the copy fails the new service is destroyed again.
func (m *Manager) serviceClone(ctx context.Context, req api.ServiceClone, out api.Output) (api.ServiceInfo, error) {
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	sk, src, err := m.loadService(ctx, req.ServiceRef)
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
	if _, err := m.serviceCreate(ctx, create, out); err != nil {
		return api.ServiceInfo{}, err
	}
	newRef := api.ServiceRef{Kind: req.Kind, Name: create.Name}
	copyErr := func() error {
		_, dst, err := m.loadService(ctx, newRef)
		if err != nil {
			return err
		}
		eng, err := m.engine(ctx)
		if err != nil {
			return err
		}
		unlock := m.lockPair(src, dst)
		defer unlock()
		fmt.Fprintf(out.Stdout, "-----> Copying data from %s to %s\n", src.Name, dst.Name)
		return m.copyService(ctx, eng, sk, src, dst, out)
	}()
	if copyErr != nil {
		fmt.Fprintf(out.Stdout, "-----> Copy failed; destroying %s\n", create.Name)
		if _, err := m.serviceDestroy(context.WithoutCancel(ctx), newRef, quiet); err != nil {
			m.log.Error("clone: new service not destroyed after a failed copy", "kind", req.Kind, "name", create.Name, "err", err)
			return api.ServiceInfo{}, api.Errorf(api.CodeInternal, "Clone of %s into %s failed: %v; and %s could not be destroyed: %v", src.Name, create.Name, copyErr, create.Name, err)
		}
		return api.ServiceInfo{}, api.Errorf(api.CodeInternal, "Clone of %s into %s failed: %v; %s was destroyed", src.Name, create.Name, copyErr, create.Name)
	}
	m.log.Info("service cloned", "kind", req.Kind, "from", src.Name, "to", create.Name)
	return m.serviceInfo(ctx, newRef, api.Output{})
}

// copyService streams a dump of src into a restore of dst.
func (m *Manager) copyService(ctx context.Context, eng Engine, sk serviceKind, src, dst store.Service, out api.Output) error {
	pr, pw := io.Pipe()
	dumped := make(chan error, 1)
	go func() {
		err := m.dumpService(ctx, eng, sk, src, pw)
		pw.CloseWithError(err)
		dumped <- err
	}()
	rerr := m.restoreService(ctx, eng, sk, dst, pr, out)
	pr.CloseWithError(errors.New("the restore stopped reading"))
	if derr := <-dumped; derr != nil {
		return fmt.Errorf("dump of %s: %w", src.Name, derr)
	}
	return rerr
}
