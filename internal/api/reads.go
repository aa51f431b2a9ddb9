package api

// Reads and changes: every operation is one or the other, so a read-only
// API token (tokens:create --read-only) may call the reads and none of the
// changes, and the audit log records every change. The daemon's test of
// its operation table fails on an operation in neither list (or both).

// readOps are the operations that change nothing: reports, lists, logs.
var readOps = set(
	"system.version", "system.doctor",
	"apps.list", "apps.info",
	"config.get", "properties.report",
	"keys.list", "keys.report",
	"tokens.list", "events.list", "dashboard.report",
	"metrics.app", "notifications.list",
	"ps.report", "ps.inspect", "run.list", "logs", "logs.failed",
	"releases.list", "releases.info", "releases.changes", "deploys.follow", "releases.data-plan",
	"certs.info", "letsencrypt.list", "redirects.list",
	"domains.report", "domains.urls", "ports.report",
	"docker-options.list", "docker-options.report", "resource.report",
	"storage.list", "storage.entries", "storage.info",
	"network.list", "network.info", "network.report",
	"cron.list", "cron.report",
	"cluster.list",
	"previews.list", "previews.report",
	"services.list", "services.info", "services.app-links", "services.logs",
	"services.backup-list", "services.backup-schedule-cat", "services.export",
)

// changeOps are the operations that change something (state, containers,
// data) or run code in an app's or a service's containers.
var changeOps = set(
	"apps.create", "apps.destroy", "apps.rename", "apps.clone", "apps.lock", "apps.unlock",
	"config.update", "properties.set",
	"notifications.add", "notifications.remove", "notifications.test", // test: sends a webhook
	"services.backup-auth", "services.backup-deauth", "services.backup-set-encryption", "services.backup-unset-encryption",
	"keys.add", "keys.remove", "keys.access",
	"tokens.create", "tokens.revoke", "dashboard.set", "dashboard.password",
	"git.from-archive", "git.from-image", "git.push-plan", "git.push-deploy", "ssh.command",
	"ps.rebuild", "ps.scale", "ps.start", "ps.stop", "ps.restart", "ps.restore",
	"run", "run.detached", "run.stop", "run.retire", "enter", "cleanup",
	"releases.rollback", "checks.run", "checks.set-mode",
	"certs.add", "certs.generate", "certs.remove",
	"letsencrypt.enable", "letsencrypt.disable", "letsencrypt.auto-renew", "letsencrypt.revoke", "letsencrypt.cron-job",
	"redirects.set", "redirects.unset", "domains.update", "ports.update",
	"proxy.enable", "proxy.build-config",
	"docker-options.update", "resource.update",
	"storage.create", "storage.destroy", "storage.ensure-directory", "storage.migrate", "storage.mount", "storage.set", "storage.unmount",
	"network.create", "network.destroy", "network.rebuild", "network.rebuildall", "network.set",
	"cron.run", "cron.set",
	"previews.enable", "previews.disable", "previews.set", "previews.destroy", "previews.deploy",
	"cluster.init", "cluster.add", "cluster.remove",
	"services.create", "services.destroy", "services.clone", "services.link", "services.unlink",
	"services.start", "services.stop", "services.restart", "services.pause", "services.promote",
	"services.expose", "services.unexpose", "services.upgrade", "services.import",
	"services.connect", "services.enter",
	"services.backup", "services.backup-restore", "services.backup-schedule", "services.backup-unschedule",
	"services.backup-verify", // a throw-away container, and the drill recorded
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// IsRead reports whether op is known to change nothing. An operation in
// neither list is a change: a read-only caller may not call it.
func IsRead(op string) bool { return readOps[op] }

// Classified reports whether op is declared a read or a change (exactly
// one of them).
func Classified(op string) bool { return readOps[op] != changeOps[op] }
