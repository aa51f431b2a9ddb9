package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// auditLog records every change made through the operations table (the
// control socket, ssh keys, API tokens alike: api.Mux.Observe), and
// answers events.list.
type auditLog struct {
	st  *store.Store
	log *slog.Logger
	n   atomic.Int64 // events recorded since the start, for pruning
}

// auditKeep is how many events the log keeps: every auditPruneEvery
// events recorded, older ones go.
const (
	auditKeep       = 100_000
	auditPruneEvery = 1000
)

// notAudited are transports whose inner calls are recorded themselves:
// ssh.command runs a command line whose operations go through the table
// as the key's holder.
var notAudited = map[string]bool{"ssh.command": true}

// Register adds events.list and makes mux record its changes.
func (a *auditLog) Register(mux *api.Mux) {
	mux.Observe(a.record)
	api.Handle(mux, api.EventsList, a.events)
}

// record is the Mux's observer: one event per change.
func (a *auditLog) record(ctx context.Context, rec api.CallRecord) {
	if api.IsRead(rec.Op) || notAudited[rec.Op] {
		return
	}
	e := store.Event{At: rec.Started, Who: rec.Who.String(), Op: rec.Op, OK: rec.Err == nil, Duration: time.Since(rec.Started)}
	var fields map[string]any
	if json.Unmarshal(rec.Request, &fields) == nil && fields != nil {
		e.App = appOf(fields)
		// A push arrives through git's hook on the control socket (as
		// root): the key that pushed is in the request.
		if key, _ := fields["key"].(string); key != "" && pushedOp(rec.Op) && rec.Who.Kind == "root" {
			e.Who = "key:" + key
		}
		if u, ok := fields["url"].(string); ok && rec.Op == "notifications.add" {
			// A webhook's URL is its secret (Slack, Discord): its host only.
			fields["url"] = urlHost(u)
		}
		b, _ := json.Marshal(maskSecrets(fields))
		e.Args = string(b)
	}
	if rec.Err != nil {
		e.Error = rec.Err.Message
	}
	// The request's context may be cancelled (a client gone): the change
	// happened all the same.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	prune := a.n.Add(1)%auditPruneEvery == 0
	if err := a.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.AddEvent(e); err != nil || !prune {
			return err
		}
		return tx.PruneEvents(auditKeep)
	}); err != nil {
		a.log.Warn("could not record a change in the audit log", "op", e.Op, "who", e.Who, "err", err)
	}
}

// pushedOp: the push hook calls the operation for a key's push (git
// push; previews of branches, docs/previews.md).
func pushedOp(op string) bool {
	return strings.HasPrefix(op, "git.push") || op == "previews.deploy" || op == "previews.destroy"
}

// appOf is the app a request names: "app", or "from" (apps:rename, clone).
func appOf(fields map[string]any) string {
	for _, k := range []string{"app", "from"} {
		if s, ok := fields[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// secretFields hold secret values whatever the operation: config values
// ("set" of config.update), private keys, passwords.
var secretFields = map[string]bool{"set": true, "key_pem": true, "password": true, "secret": true,
	"secret_access_key": true, "passphrase": true, "identity": true, // S3 credentials, backup encryption
	"app_json": true, "mask_sql": true} // a pushed branch's files (previews.deploy): review env values

// credentialsInURL is the password of a URL (https://user:PASSWORD@host).
var credentialsInURL = regexp.MustCompile(`(://[^/@:\s]*:)[^/@\s]*@`)

// maskSecrets replaces secret values with "***" (a map's keys stay: which
// config vars changed is what an audit needs), in place.
func maskSecrets(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if secretFields[k] {
				v[k] = maskAll(x)
				continue
			}
			v[k] = maskSecrets(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = maskSecrets(x)
		}
		return v
	case string:
		return credentialsInURL.ReplaceAllString(v, "${1}***@")
	}
	return v
}

// urlHost is a URL without its path, query and user: scheme://host/***.
func urlHost(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "***"
	}
	return u.Scheme + "://" + u.Host + "/***"
}

// maskAll masks every value under v, keeping map keys.
func maskAll(v any) any {
	if m, ok := v.(map[string]any); ok {
		for k := range m {
			m[k] = "***"
		}
		return m
	}
	if v == nil {
		return nil
	}
	return "***"
}

func (a *auditLog) events(ctx context.Context, req api.EventsRequest, _ api.Output) (api.EventList, error) {
	limit := req.Limit
	switch {
	case limit < 0:
		return api.EventList{}, api.Errorf(api.CodeInvalid, "--limit must be a positive number")
	case limit == 0:
		limit = 50
	case limit > 1000:
		limit = 1000
	}
	res := api.EventList{Events: []api.Event{}}
	err := a.st.Tx(ctx, func(tx *store.Tx) error {
		evs, err := tx.Events(req.App, limit)
		for _, e := range evs {
			ev := api.Event{ID: e.ID, Time: e.At.UTC(), Who: e.Who, Op: e.Op, App: e.App, OK: e.OK, Error: e.Error, DurationMS: e.Duration.Milliseconds()}
			if e.Args != "" {
				ev.Args = json.RawMessage(e.Args)
			}
			res.Events = append(res.Events, ev)
		}
		return err
	})
	return res, err
}
