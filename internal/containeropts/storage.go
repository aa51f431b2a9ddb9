package containeropts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

const (
	storageNS = "storage"
	entriesNS = "storage-entries"
)

var (
	dirNameRE   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]+$`) })
	hostMountRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/.*:/`) })
	volMountRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+:/`) })
)

func lchown(p string, uid, gid int) error { return os.Lchown(p, uid, gid) }

// chownID reads storage's --chown values as Dokku does.
func chownID(flag string) (string, error) {
	switch flag {
	case "", "herokuish":
		return "32767", nil
	case "heroku":
		return "1000", nil
	case "paketo", "packeto":
		return "2000", nil
	case "root":
		return "0", nil
	case "false":
		return "false", nil
	}
	n, err := strconv.ParseUint(flag, 10, 16)
	if err != nil {
		return "", app.Invalidf("Unsupported chown permissions %q: use herokuish, heroku, paketo, root, false or a uid from 0 to 65535", flag)
	}
	return strconv.FormatUint(n, 10), nil
}

// ensureDir makes root/name (0755) and gives it to chown's uid and gid.
func (m *Manager) ensureDir(name, chown string, out api.Output) error {
	id, err := chownID(chown)
	if err != nil {
		return err
	}
	dir := filepath.Join(m.storageRoot, name)
	fmt.Fprintf(out.Stdout, "-----> Ensuring %s exists\n", dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unable to create directory: %w", err)
	}
	// The daemon's umask is 077: the directory is made 0755 explicitly
	// (its owner is the container's user). The storage root stays
	// root-only: containers reach their directories through the engine's
	// bind mounts, not through the host's path.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	if id != "false" {
		fmt.Fprintf(out.Stdout, "       Setting directory ownership to %s:%s\n", id, id)
		n, _ := strconv.Atoi(id)
		if err := m.chown(dir, n, n); err != nil {
			return fmt.Errorf("unable to set directory ownership: %w", err)
		}
	}
	fmt.Fprintf(out.Stdout, "       Directory ready for mounting\n")
	return nil
}

func (m *Manager) storageEnsureDirectory(ctx context.Context, req api.StorageDirRequest, out api.Output) (api.Empty, error) {
	if req.Name == "" {
		return api.Empty{}, app.Invalidf("Please specify a directory to create")
	}
	if !dirNameRE().MatchString(req.Name) {
		return api.Empty{}, app.Invalidf("Directory can only contain the following set of characters: [A-Za-z0-9_-]")
	}
	fmt.Fprintf(out.Stderr, " !     Deprecated: please use 'storage:create' instead of 'storage:ensure-directory'\n")
	return api.Empty{}, m.ensureDir(req.Name, req.Chown, out)
}

// attachments reads an app's mounts, with the host paths of the entries
// they name.
func (m *Manager) attachments(tx *store.Tx, a store.App) ([]api.StorageAttachment, error) {
	raw, _, err := tx.Property(a.Scope(), storageNS, "attachments")
	if err != nil || raw == "" {
		return nil, err
	}
	var ats []api.StorageAttachment
	if err := json.Unmarshal([]byte(raw), &ats); err != nil {
		return nil, fmt.Errorf("read %s's mounts: %w", a.Name, err)
	}
	for i := range ats {
		if ats[i].EntryName == "" {
			continue
		}
		e, ok, err := loadEntry(tx, ats[i].EntryName)
		if err != nil {
			return nil, err
		}
		if !ok {
			ats[i].Missing = true
			continue
		}
		ats[i].HostPath = e.HostPath
	}
	return ats, nil
}

func writeAttachments(tx *store.Tx, a store.App, ats []api.StorageAttachment) error {
	if len(ats) == 0 {
		return tx.UnsetProperty(a.Scope(), storageNS, "attachments")
	}
	for i := range ats {
		ats[i].Missing = false
		if ats[i].EntryName != "" {
			ats[i].HostPath = "" // read from the entry
		}
	}
	b, err := json.Marshal(ats)
	if err != nil {
		return err
	}
	return tx.SetProperty(a.Scope(), storageNS, "attachments", string(b))
}

// bindOf is the engine's bind of an attachment: HOST[/SUBPATH]:CONTAINER[:OPTIONS].
func bindOf(at api.StorageAttachment) string {
	host := at.HostPath
	if at.Subpath != "" {
		host = path.Join(host, at.Subpath)
	}
	b := host + ":" + at.ContainerPath
	if o := mountOptions(at); o != "" {
		b += ":" + o
	}
	return b
}

func mountOptions(at api.StorageAttachment) string {
	switch {
	case at.Readonly && at.VolumeOptions != "":
		return "ro," + at.VolumeOptions
	case at.Readonly:
		return "ro"
	}
	return at.VolumeOptions
}

// ColonForm is an attachment as storage:list shows it: HOST:CONTAINER[:OPTIONS].
func ColonForm(at api.StorageAttachment) string {
	s := at.HostPath + ":" + at.ContainerPath
	if o := mountOptions(at); o != "" {
		s += ":" + o
	}
	return s
}

// parseColonMount reads HOST-DIR:CONTAINER-DIR[:OPTIONS] (Dokku's rules).
func parseColonMount(s string) (api.StorageAttachment, error) {
	if strings.HasPrefix(s, "/") {
		if !hostMountRE().MatchString(s) {
			return api.StorageAttachment{}, app.Invalidf("Storage path must be two valid paths divided by colon.")
		}
	} else if !volMountRE().MatchString(s) {
		return api.StorageAttachment{}, app.Invalidf("Volume name must be two characters or more. Volume name must not contain invalid characters. Storage path must be two valid paths divided by colon.")
	}
	parts := strings.SplitN(s, ":", 3)
	at := api.StorageAttachment{HostPath: parts[0], ContainerPath: parts[1], Phases: []string{"deploy", "run"}, Process: app.DefaultProcessType}
	if at.ContainerPath == "" || !path.IsAbs(at.ContainerPath) {
		return at, app.Invalidf("Storage path must be two valid paths divided by colon.")
	}
	if len(parts) == 3 && parts[2] != "" {
		var rest []string
		for _, t := range strings.Split(parts[2], ",") {
			if t == "ro" {
				at.Readonly = true
				continue
			}
			rest = append(rest, t)
		}
		at.VolumeOptions = strings.Join(rest, ",")
	}
	if strings.ContainsAny(s, "\n\t ") {
		return at, app.Invalidf("Storage path may not contain blanks")
	}
	return at, nil
}

func (m *Manager) storageMount(ctx context.Context, req api.StorageMountRequest, out api.Output) (api.Empty, error) {
	if req.Mount == "" {
		return api.Empty{}, app.Invalidf("Please specify a mount path (HOST-DIR:CONTAINER-DIR) or a storage entry")
	}
	colon := strings.Contains(req.Mount, ":")
	var at api.StorageAttachment
	if colon {
		var err error
		if at, err = parseColonMount(req.Mount); err != nil {
			return api.Empty{}, err
		}
	} else {
		if req.ContainerDir == "" {
			return api.Empty{}, app.Invalidf("--container-dir is required when mounting a named storage entry")
		}
		if !path.IsAbs(req.ContainerDir) {
			return api.Empty{}, app.Invalidf("--container-dir must be an absolute path")
		}
		phases := req.Phases
		if len(phases) == 0 {
			phases = []string{"deploy", "run"}
		}
		for _, p := range phases {
			if p != "deploy" && p != "run" {
				return api.Empty{}, app.Invalidf("Invalid phase %q: storage mounts apply to deploy and run", p)
			}
		}
		proc := req.Process
		if proc == "" {
			proc = app.DefaultProcessType
		} else if err := app.ValidProcessType(proc); err != nil {
			return api.Empty{}, err
		}
		if req.Subpath != "" && (path.IsAbs(req.Subpath) || strings.Contains("/"+req.Subpath+"/", "/../")) {
			return api.Empty{}, app.Invalidf("--volume-subpath must be a relative path without ..")
		}
		if req.VolumeChown != "" {
			if _, err := chownID(req.VolumeChown); err != nil {
				return api.Empty{}, err
			}
		}
		if strings.ContainsAny(req.VolumeOptions, " :\n") {
			return api.Empty{}, app.Invalidf("Invalid --volume-options %q", req.VolumeOptions)
		}
		at = api.StorageAttachment{EntryName: req.Mount, ContainerPath: req.ContainerDir, Phases: phases, Process: proc,
			Subpath: req.Subpath, Readonly: req.Readonly, VolumeOptions: req.VolumeOptions, VolumeChown: req.VolumeChown}
	}
	created := true
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		if !colon {
			if _, ok, err := loadEntry(tx, req.Mount); err != nil {
				return err
			} else if !ok {
				return app.Invalidf("storage entry %q does not exist; create it first with `dokku storage:create`", req.Mount)
			}
		}
		ats, err := m.attachments(tx, a)
		if err != nil {
			return err
		}
		for i, x := range ats {
			if colon && x.EntryName == "" && x.HostPath == at.HostPath && x.ContainerPath == at.ContainerPath {
				return app.Invalidf("Mount path already exists.")
			}
			if !colon && x.EntryName == at.EntryName && x.ContainerPath == at.ContainerPath && x.Process == at.Process {
				ats[i], created = at, false
				return writeAttachments(tx, a, ats)
			}
		}
		return writeAttachments(tx, a, append(ats, at))
	})
	if err != nil {
		return api.Empty{}, err
	}
	if !colon {
		if created {
			fmt.Fprintf(out.Stdout, "-----> Storage entry %s mounted at %s on %s\n", at.EntryName, at.ContainerPath, req.App)
		} else {
			fmt.Fprintf(out.Stdout, "-----> Storage entry %s mount at %s on %s updated\n", at.EntryName, at.ContainerPath, req.App)
		}
	}
	return api.Empty{}, nil
}

func (m *Manager) storageUnmount(ctx context.Context, req api.StorageMountRequest, _ api.Output) (api.Empty, error) {
	colon := strings.Contains(req.Mount, ":")
	var want api.StorageAttachment
	if colon {
		var err error
		if want, err = parseColonMount(req.Mount); err != nil {
			return api.Empty{}, err
		}
	} else if req.Mount == "" {
		return api.Empty{}, app.Invalidf("Please specify a mount path (HOST-DIR:CONTAINER-DIR) or a storage entry")
	}
	return api.Empty{}, m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		ats, err := m.attachments(tx, a)
		if err != nil {
			return err
		}
		var keep []api.StorageAttachment
		found := false
		for _, x := range ats {
			var match bool
			if colon {
				match = x.EntryName == "" && x.HostPath == want.HostPath && x.ContainerPath == want.ContainerPath
			} else {
				match = x.EntryName == req.Mount && (req.ContainerDir == "" || x.ContainerPath == req.ContainerDir)
			}
			if match {
				found = true
				continue
			}
			keep = append(keep, x)
		}
		if !found {
			if colon {
				return app.Invalidf("Mount path does not exist.")
			}
			return app.Invalidf("storage entry %s is not mounted on %s", req.Mount, a.Name)
		}
		return writeAttachments(tx, a, keep)
	})
}

func (m *Manager) storageList(ctx context.Context, req api.AppRef, _ api.Output) (api.StorageAttachments, error) {
	res := api.StorageAttachments{Attachments: []api.StorageAttachment{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		ats, err := m.attachments(tx, a)
		res.Attachments = append(res.Attachments, ats...)
		return err
	})
	return res, err
}

// storageMigrate turns an app's bind mounts given as docker-options (`-v
// HOST:CONTAINER` in the deploy and run phases, as Dokku's storage:mount
// once stored them) into storage mounts, and removes the options.
func (m *Manager) storageMigrate(ctx context.Context, req api.AppRef, out api.Output) (api.Empty, error) {
	moved := 0
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(req.App)
		if err != nil {
			return err
		}
		ats, err := m.attachments(tx, a)
		if err != nil {
			return err
		}
		phasesOf := map[string][]string{} // mount → phases it is in
		var order []string
		keep := map[string][]string{}
		for _, ph := range []string{"deploy", "run"} {
			cur, _, err := tx.Property(a.Scope(), dockerNS, ph)
			if err != nil {
				return err
			}
			for _, o := range splitLines(cur) {
				flag, v, has := app.OptionFlag(app.OptionWords(o))
				if (flag == "-v" || flag == "--volume") && has && strings.Contains(v, ":") {
					if _, err := parseColonMount(v); err == nil {
						if phasesOf[v] == nil {
							order = append(order, v)
						}
						phasesOf[v] = append(phasesOf[v], ph)
						continue
					}
				}
				keep[ph] = append(keep[ph], o)
			}
		}
		if len(order) == 0 {
			return nil
		}
	next:
		for _, v := range order {
			at, _ := parseColonMount(v)
			at.Phases = phasesOf[v]
			moved++
			for _, x := range ats {
				if x.EntryName == "" && x.HostPath == at.HostPath && x.ContainerPath == at.ContainerPath {
					continue next
				}
			}
			ats = append(ats, at)
		}
		for _, ph := range []string{"deploy", "run"} {
			if err := writeOptions(tx, a, ph, keep[ph]); err != nil {
				return err
			}
		}
		return writeAttachments(tx, a, ats)
	})
	if err == nil && moved > 0 {
		fmt.Fprintf(out.Stdout, "-----> Migrated %d docker-options -v mount(s) of %s to storage mounts\n", moved, req.App)
	}
	return api.Empty{}, err
}
