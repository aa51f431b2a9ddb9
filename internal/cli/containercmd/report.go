// Package containercmd holds the commands of what a container gets when
// Berth creates it: docker-options:*, storage:* and resource:* (served by
// internal/containeropts).
package containercmd

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berthpaas/berth/internal/cli"
)

// report prints a NAMESPACE:report as Dokku's plugins do: labels made
// of the namespace and key with dashes and dots as spaces; one value for
// an info flag (--NS-KEY); with --format json, the object built by the
// caller (Dokku's stripped and legacy keys).
func report(c *cli.Ctx, ns, title string, fields []cli.Field, obj map[string]any, warnings []string) error {
	format := c.Flag("format", "stdout")
	if c.InfoFlag != "" {
		if format == "json" {
			return cli.Failf("--format flag cannot be specified when specifying an info flag")
		}
		var valid []string
		for _, f := range fields {
			flag := "--" + ns + "-" + f.Key
			if flag == c.InfoFlag {
				c.Println(f.Value)
				return nil
			}
			valid = append(valid, flag)
		}
		return cli.Failf("Invalid flag passed, valid flags: %s", strings.Join(valid, ", "))
	}
	for _, w := range warnings {
		c.Warn("%s", w)
	}
	if format == "json" {
		if obj == nil {
			obj = map[string]any{}
			for _, f := range fields {
				obj[f.Key] = f.Value
				obj[ns+"-"+f.Key] = f.Value
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		c.Println(string(b))
		return nil
	}
	c.Info2("%s", title)
	width := 31
	for _, f := range fields {
		width = max(width, len(ns)+len(f.Key)+3)
	}
	for _, f := range fields {
		label := strings.NewReplacer("-", " ", ".", " ").Replace(ns+" "+f.Key) + ":"
		label = strings.ToUpper(label[:1]) + label[1:]
		c.Verbose("%s", fmt.Sprintf("%-*s%s", width, label, f.Value))
	}
	return nil
}
