package containeropts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// entryNameRE is Dokku's rule for storage entry names: lowercase
// letters, digits and dashes, at most 45 characters.
var entryNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$`) })

func loadEntry(tx *store.Tx, name string) (api.StorageEntry, bool, error) {
	raw, ok, err := tx.Property(store.Global, entriesNS, name)
	if err != nil || !ok {
		return api.StorageEntry{}, false, err
	}
	var e api.StorageEntry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return e, false, fmt.Errorf("read storage entry %s: %w", name, err)
	}
	return e, true, nil
}

func saveEntry(tx *store.Tx, e api.StorageEntry) error {
	e.MountedOn = nil
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.SetProperty(store.Global, entriesNS, e.Name, string(b))
}

// parseMode reads an octal directory mode ("750", "0777") in its
// canonical four-digit form.
func parseMode(v string) (string, os.FileMode, error) {
	if len(v) < 3 || len(v) > 4 {
		return "", 0, app.Invalidf("Unsupported directory mode %q: use an octal mode such as 0755", v)
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n > 0o777 {
		return "", 0, app.Invalidf("Unsupported directory mode %q: use an octal mode such as 0755", v)
	}
	return fmt.Sprintf("%04o", n), os.FileMode(n), nil
}

func (m *Manager) storageCreate(ctx context.Context, req api.StorageCreateRequest, out api.Output) (api.StorageEntry, error) {
	e := req.StorageEntry
	if !entryNameRE().MatchString(e.Name) {
		return e, app.Invalidf("Invalid storage entry name %q: lowercase letters, digits and dashes, at most 45 characters", e.Name)
	}
	if strings.HasPrefix(e.Name, "legacy-") {
		return e, app.Invalidf("Storage entry names starting with legacy- are reserved")
	}
	if e.Scheduler == "" {
		e.Scheduler = "docker-local"
	}
	if e.Scheduler != "docker-local" {
		if e.Mode != "" {
			return e, app.Invalidf("The %s scheduler does not accept --mode", e.Scheduler)
		}
		return e, app.Invalidf("Berth runs storage entries on docker-local only, not %s", e.Scheduler)
	}
	if e.Size != "" {
		return e, app.Invalidf("--size applies to k3s storage entries; Berth runs docker-local only")
	}
	def := filepath.Join(m.storageRoot, e.Name)
	e.Default = e.HostPath == "" || filepath.Clean(e.HostPath) == def
	if e.HostPath == "" {
		e.HostPath = def
	}
	if !path.IsAbs(e.HostPath) {
		return e, app.Invalidf("The host path of a storage entry must be absolute")
	}
	e.HostPath = filepath.Clean(e.HostPath)
	if e.Chown != "" {
		if !e.Default {
			return e, app.Invalidf("--chown is only supported when the storage entry uses the default host path")
		}
		if _, err := chownID(e.Chown); err != nil {
			return e, err
		}
	}
	var mode os.FileMode = 0o755
	if e.Mode != "" {
		if !e.Default {
			return e, app.Invalidf("--mode is only supported when the storage entry uses the default host path")
		}
		var err error
		if e.Mode, mode, err = parseMode(e.Mode); err != nil {
			return e, err
		}
	}
	switch e.ReclaimPolicy {
	case "", "Retain":
	case "Delete":
		if !e.Default {
			return e, app.Invalidf("--reclaim-policy Delete is only supported when the storage entry uses the default host path")
		}
	default:
		return e, app.Invalidf("Invalid --reclaim-policy %q: use Retain or Delete", e.ReclaimPolicy)
	}
	if e.Default {
		chown := e.Chown
		if chown == "" {
			chown = "false"
		}
		if err := m.ensureDir(e.Name, chown, out); err != nil {
			return e, err
		}
		if err := os.Chmod(e.HostPath, mode); err != nil {
			return e, err
		}
	}
	err := m.store.Tx(ctx, func(tx *store.Tx) error { return saveEntry(tx, e) })
	return e, err
}

// mountedOn lists the apps an entry is mounted on.
func (m *Manager) mountedOn(tx *store.Tx, name string) ([]string, error) {
	apps, err := tx.Apps()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range apps {
		ats, err := m.attachments(tx, a)
		if err != nil {
			return nil, err
		}
		for _, at := range ats {
			if at.EntryName == name {
				out = append(out, a.Name)
				break
			}
		}
	}
	return out, nil
}

func (m *Manager) storageDestroy(ctx context.Context, req api.StorageDestroyRequest, out api.Output) (api.Empty, error) {
	var e api.StorageEntry
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var ok bool
		var err error
		if e, ok, err = loadEntry(tx, req.Name); err != nil {
			return err
		} else if !ok {
			return app.Invalidf("storage entry %q does not exist", req.Name)
		}
		if req.DestroyHostDir && e.Scheduler != "docker-local" {
			return app.Invalidf("--destroy-host-dir only applies to docker-local storage entries")
		}
		if req.DestroyHostDir && !e.Default {
			return app.Invalidf("--destroy-host-dir is only supported when the storage entry uses the default host path")
		}
		apps, err := m.mountedOn(tx, req.Name)
		if err != nil {
			return err
		}
		if len(apps) > 0 {
			return app.Invalidf("storage entry %s is still mounted on %s; unmount it first", req.Name, strings.Join(apps, ", "))
		}
		return tx.UnsetProperty(store.Global, entriesNS, req.Name)
	})
	if err != nil {
		return api.Empty{}, err
	}
	if (req.DestroyHostDir || e.ReclaimPolicy == "Delete") && e.Default && filepath.Dir(e.HostPath) == m.storageRoot {
		fmt.Fprintf(out.Stdout, "-----> Removing %s\n", e.HostPath)
		if err := os.RemoveAll(e.HostPath); err != nil {
			return api.Empty{}, err
		}
	}
	fmt.Fprintf(out.Stdout, "-----> Storage entry %s destroyed\n", req.Name)
	return api.Empty{}, nil
}

func (m *Manager) storageEntries(ctx context.Context, _ api.Empty, _ api.Output) (api.StorageEntries, error) {
	res := api.StorageEntries{Entries: []api.StorageEntry{}}
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		props, err := tx.Properties(store.Global, entriesNS)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(props))
		for n := range props {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			e, ok, err := loadEntry(tx, n)
			if err != nil {
				return err
			}
			if ok {
				res.Entries = append(res.Entries, e)
			}
		}
		return nil
	})
	return res, err
}

func (m *Manager) storageInfo(ctx context.Context, req api.StorageEntryRef, _ api.Output) (api.StorageEntry, error) {
	var e api.StorageEntry
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var ok bool
		var err error
		if e, ok, err = loadEntry(tx, req.Name); err == nil && !ok {
			err = app.Invalidf("storage entry %q does not exist", req.Name)
		}
		if err != nil {
			return err
		}
		e.MountedOn, err = m.mountedOn(tx, req.Name)
		return err
	})
	return e, err
}

// storageProperties are what storage:set changes on a docker-local entry.
var storageProperties = []string{"chown", "mode", "reclaim-policy"}

func (m *Manager) storageSet(ctx context.Context, req api.StorageSetRequest, out api.Output) (api.StorageEntry, error) {
	var e api.StorageEntry
	err := m.store.Tx(ctx, func(tx *store.Tx) error {
		var ok bool
		var err error
		if e, ok, err = loadEntry(tx, req.Name); err != nil {
			return err
		} else if !ok {
			return app.Invalidf("storage entry %q does not exist", req.Name)
		}
		for p, v := range req.Properties {
			switch p {
			case "access-mode", "storage-class-name":
				return app.Invalidf("cannot change %s in place: destroy and create the entry again", p)
			case "chown":
				if v != "" {
					if !e.Default {
						return app.Invalidf("--chown is only supported when the storage entry uses the default host path")
					}
					if _, err := chownID(v); err != nil {
						return err
					}
				}
				e.Chown = v
			case "mode":
				if v != "" {
					if !e.Default {
						return app.Invalidf("--mode is only supported when the storage entry uses the default host path")
					}
					if v, _, err = parseMode(v); err != nil {
						return err
					}
				}
				e.Mode = v
			case "reclaim-policy":
				if v != "" && v != "Retain" && v != "Delete" {
					return app.Invalidf("Invalid reclaim-policy %q: use Retain or Delete", v)
				}
				if v == "Delete" && !e.Default {
					return app.Invalidf("--reclaim-policy Delete is only supported when the storage entry uses the default host path")
				}
				e.ReclaimPolicy = v
			default:
				return app.Invalidf("Invalid property specified, valid properties include: %s", strings.Join(storageProperties, ", "))
			}
		}
		e.Annotations = setKeys(e.Annotations, req.Annotations)
		e.Labels = setKeys(e.Labels, req.Labels)
		return saveEntry(tx, e)
	})
	if err != nil {
		return e, err
	}
	if e.Default {
		if _, ok := req.Properties["mode"]; ok && e.Mode != "" {
			_, mode, _ := parseMode(e.Mode)
			if err := os.Chmod(e.HostPath, mode); err != nil {
				return e, err
			}
		}
		if v, ok := req.Properties["chown"]; ok && v != "" && v != "false" {
			id, _ := chownID(v)
			n, _ := strconv.Atoi(id)
			if err := m.chown(e.HostPath, n, n); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}

// setKeys sets keys of m ("" removes one); an empty result is nil.
func setKeys(m, set map[string]string) map[string]string {
	for k, v := range set {
		if v == "" {
			delete(m, k)
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
