package containercmd

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli"
)

func init() {
	cli.Register(
		&cli.Command{Name: "storage:set", Args: "<name> <property> [<value>]", Short: "Change a storage entry in place (chown, mode, reclaim-policy; no value unsets)",
			Values: []string{"chown", "mode", "reclaim-policy"}, Multi: []string{"annotation", "label"}, Run: storageSet},
		&cli.Command{Name: "storage:annotations:set", Args: "<name> <key> [<value>]", Short: "Set or clear an annotation of a storage entry",
			Run: storageMetaSet("annotation")},
		&cli.Command{Name: "storage:labels:set", Args: "<name> <key> [<value>]", Short: "Set or clear a label of a storage entry",
			Run: storageMetaSet("label")},
		&cli.Command{Name: "storage:annotations:report", Args: "[<name>] [<flag>] [--format json]", Short: "Display the annotations of one or every storage entry",
			Values: []string{"format"}, InfoFlags: true, Run: storageMetaReport("annotation")},
		&cli.Command{Name: "storage:labels:report", Args: "[<name>] [<flag>] [--format json]", Short: "Display the labels of one or every storage entry",
			Values: []string{"format"}, InfoFlags: true, Run: storageMetaReport("label")},
	)
}

func storageSet(c *cli.Ctx) error {
	if len(c.Args) == 0 {
		return cli.Failf("Please specify a storage entry name")
	}
	if err := c.NoExtraArgs(3); err != nil {
		return err
	}
	req := api.StorageSetRequest{Name: c.Args[0], Properties: map[string]string{}}
	flags := false
	for _, p := range []string{"chown", "mode", "reclaim-policy"} {
		if v := c.Flag(p, ""); v != "" {
			req.Properties[p] = v
			flags = true
		}
	}
	meta := func(kvs []string) (map[string]string, error) {
		out := map[string]string{}
		for _, kv := range kvs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, cli.Failf("Invalid key=value %q", kv)
			}
			out[k] = v
		}
		return out, nil
	}
	var err error
	if req.Annotations, err = meta(c.Multi("annotation")); err != nil {
		return err
	}
	if req.Labels, err = meta(c.Multi("label")); err != nil {
		return err
	}
	hasMeta := len(req.Annotations)+len(req.Labels) > 0
	switch {
	case len(c.Args) > 1 && (flags || hasMeta):
		return cli.Failf("Specify either a property and a value or flags, not both")
	case len(c.Args) > 1:
		v := ""
		if len(c.Args) > 2 {
			v = c.Args[2]
		}
		req.Properties[c.Args[1]] = v
	case !flags && !hasMeta:
		return cli.Failf("No property specified")
	}
	if flags {
		c.Warn("Deprecated: please use 'storage:set <name> <property> [<value>]' instead of flags")
	}
	if hasMeta {
		c.Warn("Deprecated: please use 'storage:annotations:set' and 'storage:labels:set' instead of --annotation and --label")
	}
	_, err = api.StorageSet.Stream(c, c.API, req, c.Output())
	return err
}

func storageMetaSet(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if len(c.Args) == 0 {
			return cli.Failf("Please specify a storage entry name")
		}
		if err := c.NoExtraArgs(3); err != nil {
			return err
		}
		if _, err := api.StorageInfo.Call(c, c.API, api.StorageEntryRef{Name: c.Args[0]}); err != nil {
			return err
		}
		if len(c.Args) < 2 {
			return cli.Failf("No %s key specified", kind)
		}
		v := ""
		if len(c.Args) > 2 {
			v = c.Args[2]
		}
		req := api.StorageSetRequest{Name: c.Args[0]}
		if kind == "annotation" {
			req.Annotations = map[string]string{c.Args[1]: v}
		} else {
			req.Labels = map[string]string{c.Args[1]: v}
		}
		_, err := api.StorageSet.Stream(c, c.API, req, c.Output())
		return err
	}
}

func storageMetaReport(kind string) func(*cli.Ctx) error {
	return func(c *cli.Ctx) error {
		if err := c.NoExtraArgs(1); err != nil {
			return err
		}
		var entries []api.StorageEntry
		if len(c.Args) == 1 {
			e, err := api.StorageInfo.Call(c, c.API, api.StorageEntryRef{Name: c.Args[0]})
			if err != nil {
				return err
			}
			entries = append(entries, e)
		} else {
			res, err := api.StorageEntryList.Call(c, c.API, api.Empty{})
			if err != nil {
				return err
			}
			entries = res.Entries
		}
		plural := kind + "s"
		for _, e := range entries {
			values := e.Annotations
			if kind == "label" {
				values = e.Labels
			}
			if c.Flag("format", "stdout") == "json" && c.InfoFlag == "" {
				if values == nil {
					values = map[string]string{}
				}
				b, _ := json.Marshal(values)
				c.Println(string(b))
				continue
			}
			keys := make([]string, 0, len(values))
			for k := range values {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var fields []cli.Field
			for _, k := range keys {
				fields = append(fields, cli.Field{Key: k, Value: values[k]})
			}
			if c.InfoFlag != "" {
				var valid []string
				for _, f := range fields {
					flag := "--storage-" + plural + "." + f.Key
					if flag == c.InfoFlag {
						c.Println(f.Value)
						return nil
					}
					valid = append(valid, flag)
				}
				return cli.Failf("Invalid flag passed, valid flags: %s", strings.Join(valid, ", "))
			}
			c.Info2("%s %s information", e.Name, plural)
			for _, f := range fields {
				label := strings.ToUpper(kind[:1]) + kind[1:] + " " + f.Key + ":"
				c.Verbose("%-31s%s", label, f.Value)
			}
		}
		return nil
	}
}
