// Package notify tells webhooks what happened: deploys that succeeded or
// failed, rollbacks, failed certificate renewals and scheduled backups,
// and process containers in a crash loop. Targets (notifications:add) are
// kept in the store with the outcome of their last delivery; events are
// queued (a bounded queue: when it is full an event is dropped and
// counted, never waited for) and delivered in the background with retries
// and exponential backoff, so a slow or dead receiver never holds up a
// deploy. Payloads come in three formats: Berth's own JSON, Slack's and
// Discord's incoming-webhook bodies.
package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event kinds a target can select with --events.
const (
	DeploySucceeded   = "deploy-succeeded"
	DeployFailed      = "deploy-failed"
	Rollback          = "rollback"
	CertRenewalFailed = "cert-renewal-failed"
	BackupFailed      = "backup-failed"
	CrashLoop         = "crash-loop"
	// Test is the event of notifications:test; no target selects it, the
	// named one gets it.
	Test = "test"
)

// Kinds are the event kinds targets select from, in the order help lists
// them.
var Kinds = []string{DeploySucceeded, DeployFailed, Rollback, CertRenewalFailed, BackupFailed, CrashLoop}

// Event is something a target may be told of.
type Event struct {
	Kind string
	// App is the app it happened to; "" for events of no app (a service's
	// backup names the service in Details).
	App     string
	Release int // 0: none
	// Message is the one line a person reads.
	Message string
	Time    time.Time
	// Details are further facts (step, error, service, process, ...).
	Details map[string]string
}

// ParseEvents checks a --events list ("deploy-failed,rollback"); "" and
// "all" select every event (nil).
func ParseEvents(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return nil, nil
	}
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if !slices.Contains(Kinds, e) {
			return nil, fmt.Errorf("unknown event %q; events are %s (or all)", e, strings.Join(Kinds, ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// wants reports whether a target with the given event and app filters is
// told of ev.
func wants(events []string, app string, ev Event) bool {
	if len(events) > 0 && !slices.Contains(events, ev.Kind) {
		return false
	}
	return app == "" || app == ev.App
}
