package appfile

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// checkSchedule reports why s is not a cron schedule Dokku accepts, or ""
// when it is one. Dokku validates schedules with robfig/cron's standard
// parser; this accepts the same language: five fields (minute, hour, day of
// month, month, day of week) made of "*", "?", numbers, ranges "a-b", lists
// "a,b" and steps "/n", with month and weekday names (JAN, MON); or one of
// the descriptors @yearly, @annually, @monthly, @weekly, @daily, @midnight,
// @hourly and "@every DURATION".
func checkSchedule(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if strings.HasPrefix(s, "@") {
		switch s {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
			return ""
		}
		if rest, ok := strings.CutPrefix(s, "@every "); ok {
			d, err := time.ParseDuration(strings.TrimSpace(rest))
			if err != nil || d <= 0 {
				return fmt.Sprintf("has an invalid duration in %s (use e.g. \"@every 1h30m\")", quote(s))
			}
			return ""
		}
		return fmt.Sprintf("has an unknown descriptor %s (use @yearly, @monthly, @weekly, @daily, @hourly or @every DURATION)", quote(s))
	}
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return fmt.Sprintf("must have 5 fields (minute hour day-of-month month day-of-week) or be a descriptor such as @daily, not %d fields in %s", len(fields), quote(s))
	}
	for i, f := range fields {
		if why := cronFields[i].check(f); why != "" {
			return fmt.Sprintf("has an invalid %s field %s: %s", cronFields[i].name, quote(f), why)
		}
	}
	return ""
}

type cronField struct {
	name     string
	min, max int
	names    []string // names[i] stands for min+i
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day-of-week", min: 0, max: 6, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

func (c cronField) check(field string) string {
	for item := range strings.SplitSeq(field, ",") {
		rng, step, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, ok := digits(step)
			if !ok || n == 0 {
				return fmt.Sprintf("step %s must be a positive number", quote(step))
			}
		}
		if rng == "*" || rng == "?" {
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, why := c.value(lo)
		if why != "" {
			return why
		}
		if isRange {
			b, why := c.value(hi)
			if why != "" {
				return why
			}
			if a > b {
				return fmt.Sprintf("range %s goes backwards", quote(rng))
			}
		}
	}
	return ""
}

func (c cronField) value(s string) (int, string) {
	for i, name := range c.names {
		if strings.EqualFold(s, name) {
			return c.min + i, ""
		}
	}
	n, ok := digits(s)
	if !ok {
		return 0, fmt.Sprintf("%s is not a number", quote(s))
	}
	if n < c.min || n > c.max {
		return 0, fmt.Sprintf("%d is out of range %d-%d", n, c.min, c.max)
	}
	return n, ""
}

// digits parses a short unsigned decimal number.
func digits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
