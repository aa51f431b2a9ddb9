package cli

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Field is one line of a NAMESPACE:report.
type Field struct {
	Key   string // without the namespace, e.g. "created-at"
	Value string
}

// Report prints a NAMESPACE:report as Dokku does: a header and padded
// labels; one value with an info flag (--NS-KEY); or a JSON object with
// --format json.
func (c *Ctx) Report(ns, title string, fields []Field) error {
	format := c.Flag("format", "stdout")
	if format != "stdout" && format != "json" {
		return Failf("Invalid format: %s; use stdout or json", format)
	}
	if c.InfoFlag != "" {
		if format == "json" {
			return Failf("--format flag cannot be specified when specifying an info flag")
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
		return Failf("Invalid flag passed, valid flags: %s", strings.Join(valid, ", "))
	}
	if format == "json" {
		obj := map[string]string{}
		for _, f := range fields {
			obj[f.Key] = f.Value
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
		label := strings.ReplaceAll(ns+" "+f.Key, "-", " ") + ":"
		label = strings.ToUpper(label[:1]) + label[1:]
		c.Verbose("%s", fmt.Sprintf("%-*s%s", width, label, f.Value))
	}
	return nil
}
