package app

import (
	"regexp"
	"strconv"
	"sync"
)

// LogsKeys are the keys of logs:set, Dokku's, in order. max-size is the
// json-file/local log driver's max-size given to app containers; the
// vector-* keys and app-label-alias configure Dokku's Vector log shipper,
// which Berth does not run: they can be cleared, not set (see
// docs/dokku-differences.md).
var LogsKeys = []string{"app-label-alias", "max-size", "vector-cron-sink", "vector-image", "vector-networks", "vector-sink"}

// LogsGlobalOnly are the logs keys Dokku takes only with --global.
var LogsGlobalOnly = map[string]bool{"vector-image": true, "vector-networks": true}

// DefaultLogMaxSize is Dokku's default max-size of a container's log.
const DefaultLogMaxSize = "10m"

var labelKeyRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`) })

func init() {
	Register(Setting{Namespace: "logs", Key: "max-size", Scope: ScopeBoth, Default: DefaultLogMaxSize, Validate: ValidateLogMaxSize})
	for _, k := range []string{"vector-cron-sink", "vector-sink", "app-label-alias"} {
		Register(Setting{Namespace: "logs", Key: k, Scope: ScopeBoth, Validate: noVector(k)})
	}
	for k := range LogsGlobalOnly {
		Register(Setting{Namespace: "logs", Key: k, Scope: ScopeGlobal, Validate: noVector(k)})
	}
}

// ValidateLogMaxSize accepts Dokku's max-size values: unlimited, or a
// whole number followed by k, m or g.
func ValidateLogMaxSize(v string) error {
	if v == "unlimited" {
		return nil
	}
	if len(v) < 2 {
		return Invalidf("Invalid max-size value, must be a number followed by a unit of measure [k, m, g]")
	}
	switch v[len(v)-1] {
	case 'k', 'm', 'g':
	default:
		return Invalidf("Invalid max-size unit measure, value must end in any of [k, m, g]")
	}
	if n, err := strconv.Atoi(v[:len(v)-1]); err != nil || n <= 0 {
		return Invalidf("Invalid max-size value %q, must be a positive number followed by a unit of measure [k, m, g]", v)
	}
	return nil
}

// noVector refuses a value for a key of Dokku's Vector log shipper, after
// checking it as Dokku does.
func noVector(key string) func(string) error {
	return func(v string) error {
		if key == "app-label-alias" && !labelKeyRE().MatchString(v) {
			return Invalidf("Invalid app-label-alias value, must start with a letter or number and contain only letters, numbers, and any of [_, ., -]")
		}
		return Invalidf("Berth does not ship logs with Vector, so %s cannot be set; read logs with `logs APP -t` (or the engine's log driver: docker-options:add APP deploy --log-driver=...)", key)
	}
}
