package containercmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "storage:ensure-directory", Args: "[--chown option] <directory>", Short: "[DEPRECATED] use storage:create: create a directory in the storage root",
			Values: []string{"chown"}, Run: storageEnsureDirectory},
		&cli.Command{Name: "storage:mount", Args: "<app> <host-dir:container-dir>|<entry> [--container-dir DIR] [--phase P]... [--process-type T] [--volume-options O] [--volume-readonly] [--volume-subpath S] [--volume-chown C]",
			Short: "Mount a host directory, volume or storage entry into an app's containers",
			App:   cli.AppRequired, Values: []string{"container-dir", "process-type", "volume-options", "volume-subpath", "volume-chown"}, Multi: []string{"phase"}, Bools: []string{"volume-readonly"}, Run: storageMount},
		&cli.Command{Name: "storage:unmount", Args: "<app> <host-dir:container-dir>|<entry> [--container-dir DIR]", Short: "Remove a mount",
			App: cli.AppRequired, Values: []string{"container-dir"}, Run: storageUnmount},
		&cli.Command{Name: "storage:list", Args: "<app> [--format text|json]", Short: "List an app's mounts (host:container)",
			App: cli.AppRequired, Values: []string{"format"}, CustomFormat: true, Run: storageList},
		&cli.Command{Name: "storage:report", Args: "[<app>] [<flag>] [--format json]", Short: "Display an app's mounts",
			App: cli.AppOptional, Values: []string{"format"}, InfoFlags: true, Run: storageReport},
		&cli.Command{Name: "storage:create", Args: "<name> [<path>] [--chown C] [--mode M] [--reclaim-policy Retain|Delete]", Short: "Register a named storage entry (a directory in the storage root, or PATH)",
			Values: []string{"chown", "mode", "reclaim-policy", "scheduler", "size"}, Run: storageCreate},
		&cli.Command{Name: "storage:destroy", Args: "<name> [--force] [--destroy-host-dir]", Short: "Remove a storage entry (unmounted from every app first)",
			Bools: []string{"force", "destroy-host-dir"}, Run: storageDestroy},
		&cli.Command{Name: "storage:migrate", Args: "<app>|--all", Short: "Turn an app's docker-options -v bind mounts into storage mounts",
			App: cli.AppOptional, Bools: []string{"all"}, Run: storageMigrate},
		&cli.Command{Name: "storage:list-entries", Args: "[--format text|json]", Short: "List the storage entries",
			Values: []string{"format"}, CustomFormat: true, Run: storageListEntries},
		&cli.Command{Name: "storage:info", Args: "<name> [--format text|json]", Short: "Show one storage entry",
			Values: []string{"format"}, CustomFormat: true, Run: storageInfo},
	)
}

func textOrJSON(c *cli.Ctx) (bool, error) {
	switch f := c.Flag("format", "text"); f {
	case "text", "stdout":
		return false, nil
	case "json":
		return true, nil
	default:
		return false, cli.Failf("Invalid --format value specified: %s; use text or json", f)
	}
}

func storageEnsureDirectory(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a directory to create")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	_, err := api.StorageEnsureDirectory.Stream(c, c.API, api.StorageDirRequest{Name: c.Args[0], Chown: c.Flag("chown", "herokuish")}, c.Output())
	return err
}

func storageMount(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a mount path (HOST-DIR:CONTAINER-DIR) or a storage entry")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	req := api.StorageMountRequest{App: c.App, Mount: c.Args[0], ContainerDir: c.Flag("container-dir", ""), Phases: c.Multi("phase"),
		Process: c.Flag("process-type", ""), Subpath: c.Flag("volume-subpath", ""), Readonly: c.Bool("volume-readonly"),
		VolumeOptions: c.Flag("volume-options", ""), VolumeChown: c.Flag("volume-chown", "")}
	_, err := api.StorageMount.Stream(c, c.API, req, c.Output())
	return err
}

func storageUnmount(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a mount path (HOST-DIR:CONTAINER-DIR) or a storage entry")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	_, err := api.StorageUnmount.Stream(c, c.API, api.StorageMountRequest{App: c.App, Mount: c.Args[0], ContainerDir: c.Flag("container-dir", "")}, c.Output())
	return err
}

// colonForm is a mount as storage:list shows it: HOST:CONTAINER[:OPTIONS].
func colonForm(at api.StorageAttachment) string {
	opts := at.VolumeOptions
	if at.Readonly {
		opts = strings.TrimSuffix("ro,"+opts, ",")
	}
	s := at.HostPath + ":" + at.ContainerPath
	if opts != "" {
		s += ":" + opts
	}
	return s
}

func hasPhase(at api.StorageAttachment, p string) bool {
	for _, x := range at.Phases {
		if x == p {
			return true
		}
	}
	return false
}

type listEntry struct {
	EntryName     string `json:"entry_name,omitempty"`
	HostPath      string `json:"host_path"`
	ContainerPath string `json:"container_path"`
	Readonly      bool   `json:"readonly,omitempty"`
	VolumeOptions string `json:"volume_options,omitempty"`
}

func storageList(c *cli.Ctx) error {
	asJSON, err := textOrJSON(c)
	if err != nil {
		return err
	}
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.StorageList.Call(c, c.API, api.AppRef{App: c.App})
	if err != nil {
		return err
	}
	rows := []listEntry{}
	var lines []string
	for _, at := range res.Attachments {
		if at.Missing || !hasPhase(at, "deploy") {
			continue
		}
		rows = append(rows, listEntry{EntryName: at.EntryName, HostPath: at.HostPath, ContainerPath: at.ContainerPath, Readonly: at.Readonly, VolumeOptions: at.VolumeOptions})
		lines = append(lines, colonForm(at))
	}
	if asJSON {
		b, _ := json.Marshal(rows)
		c.Println(string(b))
		return nil
	}
	c.Info1("%s volume bind-mounts:", c.App)
	for _, l := range lines {
		if c.Quiet {
			c.Println(l)
		} else {
			c.Verbose("%s", l)
		}
	}
	return nil
}

func storageReport(c *cli.Ctx) error {
	apps, err := c.ReportApps()
	if err != nil {
		return err
	}
	for _, a := range apps {
		res, err := api.StorageList.Call(c, c.API, api.AppRef{App: a})
		if err != nil {
			return err
		}
		mounts := map[string][]string{}
		var warnings []string
		var attached []api.StorageAttachment
		for _, at := range res.Attachments {
			if at.Missing {
				warnings = append(warnings, fmt.Sprintf("Skipping attachment on %q: missing entry %q", a, at.EntryName))
				continue
			}
			attached = append(attached, at)
			for _, p := range at.Phases {
				mounts[p] = append(mounts[p], "-v "+colonForm(at))
			}
		}
		fields := []cli.Field{
			{Key: "build-mounts", Value: strings.Join(mounts["build"], " ")},
			{Key: "deploy-mounts", Value: strings.Join(mounts["deploy"], " ")},
			{Key: "run-mounts", Value: strings.Join(mounts["run"], " ")},
		}
		for i, at := range attached {
			p := fmt.Sprintf("attachment.%d.", i+1)
			fields = append(fields,
				cli.Field{Key: p + "entry-name", Value: at.EntryName},
				cli.Field{Key: p + "host-path", Value: at.HostPath},
				cli.Field{Key: p + "container-path", Value: at.ContainerPath},
				cli.Field{Key: p + "phases", Value: strings.Join(at.Phases, ",")},
				cli.Field{Key: p + "process-type", Value: at.Process},
				cli.Field{Key: p + "subpath", Value: at.Subpath},
				cli.Field{Key: p + "readonly", Value: fmt.Sprint(at.Readonly)},
				cli.Field{Key: p + "volume-options", Value: at.VolumeOptions},
				cli.Field{Key: p + "volume-chown", Value: at.VolumeChown},
			)
		}
		if err := c.ReportWith("storage", a+" storage information", fields, cli.ReportOptions{Unsorted: true, Warnings: warnings}); err != nil {
			return err
		}
	}
	return nil
}

func storageCreate(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a storage entry name")
	}
	if err := c.NoExtraArgs(2); err != nil {
		return err
	}
	e := api.StorageEntry{Name: c.Args[0], Chown: c.Flag("chown", ""), Mode: c.Flag("mode", ""), ReclaimPolicy: c.Flag("reclaim-policy", ""), Scheduler: c.Flag("scheduler", ""), Size: c.Flag("size", "")}
	if len(c.Args) > 1 {
		e.HostPath = c.Args[1]
	}
	res, err := api.StorageCreate.Stream(c, c.API, api.StorageCreateRequest{StorageEntry: e}, c.Output())
	if err != nil {
		return err
	}
	c.Info1("Storage entry %s registered at %s", res.Name, res.HostPath)
	return nil
}

func storageDestroy(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a storage entry name")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	name := c.Args[0]
	e, err := api.StorageInfo.Call(c, c.API, api.StorageEntryRef{Name: name})
	if err != nil {
		return err
	}
	if len(e.MountedOn) > 0 {
		return cli.Failf("storage entry %s is still mounted on %s; unmount it first", name, strings.Join(e.MountedOn, ", "))
	}
	if !c.Bool("force") {
		c.Warn("WARNING: Potentially Destructive Action")
		if c.Bool("destroy-host-dir") {
			c.Warn("This command will destroy storage entry %s and its host directory %s, which will be removed along with its contents.", name, e.HostPath)
		} else {
			c.Warn("This command will destroy storage entry %s (its host directory %s is kept).", name, e.HostPath)
		}
		c.Warn("To proceed, type \"%s\"", name)
		c.Stderr.Write([]byte("\n> "))
		line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != name {
			return cli.Failf("Confirmation did not match %s. Aborted.", name)
		}
	}
	_, err = api.StorageDestroy.Stream(c, c.API, api.StorageDestroyRequest{Name: name, DestroyHostDir: c.Bool("destroy-host-dir")}, c.Output())
	return err
}

type entryJSON struct {
	Name          string            `json:"name"`
	Scheduler     string            `json:"scheduler"`
	HostPath      string            `json:"host_path,omitempty"`
	Chown         string            `json:"chown,omitempty"`
	Mode          string            `json:"mode,omitempty"`
	ReclaimPolicy string            `json:"reclaim_policy,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
}

func toJSON(e api.StorageEntry) entryJSON {
	return entryJSON{Name: e.Name, Scheduler: e.Scheduler, HostPath: e.HostPath, Chown: e.Chown, Mode: e.Mode, ReclaimPolicy: e.ReclaimPolicy, Annotations: e.Annotations, Labels: e.Labels}
}

func storageListEntries(c *cli.Ctx) error {
	asJSON, err := textOrJSON(c)
	if err != nil {
		return err
	}
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	res, err := api.StorageEntryList.Call(c, c.API, api.Empty{})
	if err != nil {
		return err
	}
	if asJSON {
		out := []entryJSON{}
		for _, e := range res.Entries {
			out = append(out, toJSON(e))
		}
		b, _ := json.Marshal(out)
		c.Println(string(b))
		return nil
	}
	c.Info2("Storage entries")
	for _, e := range res.Entries {
		c.Verbose("%s", fmt.Sprintf("%-30s %-13s %s", e.Name, e.Scheduler, e.HostPath))
	}
	return nil
}

func storageInfo(c *cli.Ctx) error {
	asJSON, err := textOrJSON(c)
	if err != nil {
		return err
	}
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a storage entry name")
	}
	if err := c.NoExtraArgs(1); err != nil {
		return err
	}
	e, err := api.StorageInfo.Call(c, c.API, api.StorageEntryRef{Name: c.Args[0]})
	if err != nil {
		return err
	}
	if asJSON {
		b, _ := json.Marshal(toJSON(e))
		c.Println(string(b))
		return nil
	}
	c.Info2("%s storage information", e.Name)
	for _, kv := range [][2]string{{"Name", e.Name}, {"Scheduler", e.Scheduler}, {"Host path", e.HostPath}, {"Chown", e.Chown}, {"Mode", e.Mode}, {"Reclaim policy", e.ReclaimPolicy}} {
		c.Verbose("%s", fmt.Sprintf("%-16s%s", kv[0]+":", kv[1]))
	}
	return nil
}

func storageMigrate(c *cli.Ctx) error {
	if err := c.NoExtraArgs(0); err != nil {
		return err
	}
	if c.App == "" && !c.Bool("all") {
		return cli.Failf("Please specify an app or --all")
	}
	apps, err := c.ReportApps()
	if err != nil {
		return err
	}
	for _, a := range apps {
		if _, err := api.StorageMigrate.Stream(c, c.API, api.AppRef{App: a}, c.Output()); err != nil {
			return err
		}
	}
	return nil
}
