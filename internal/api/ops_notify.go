package api

import "time"

// NotificationAddRequest adds a webhook target (notifications:add).
type NotificationAddRequest struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Format is json (the default), slack or discord.
	Format string `json:"format,omitempty"`
	// Events is a comma-separated list of event names; "" or "all" is
	// every event.
	Events string `json:"events,omitempty"`
	// App limits the target to one app's events ("" is every app's).
	App string `json:"app,omitempty"`
}

// NotificationRef names a target.
type NotificationRef struct {
	Name string `json:"name"`
}

// NotificationDelivery is the outcome of a delivery to a target.
type NotificationDelivery struct {
	At    time.Time `json:"at"`
	Event string    `json:"event"`
	// Status is the receiver's last HTTP status (0: it never answered).
	Status int `json:"status"`
	// Error is "" when the event was delivered.
	Error string `json:"error,omitempty"`
	Tries int    `json:"tries"`
}

// NotificationTarget is a target as notifications:list shows it.
type NotificationTarget struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Format string   `json:"format"`
	Events []string `json:"events"` // empty: every event
	App    string   `json:"app,omitempty"`
	// Last is the last delivery (nil: none yet).
	Last *NotificationDelivery `json:"last,omitempty"`
}

// NotificationTargets lists the targets, and how many events were dropped
// since the daemon started because the delivery queue was full.
type NotificationTargets struct {
	Targets []NotificationTarget `json:"targets"`
	Dropped int64                `json:"dropped"`
}

// The notifications:* operations. Targets are not an app's (one may
// follow every app) and their URLs are secrets (a Slack or Discord
// webhook's URL is its key): every operation is admin-only.
var (
	NotificationsAdd    = Op[NotificationAddRequest, Empty]{"notifications.add", AdminOnly}
	NotificationsList   = Op[Empty, NotificationTargets]{"notifications.list", AdminOnly}
	NotificationsRemove = Op[NotificationRef, Empty]{"notifications.remove", AdminOnly}
	NotificationsTest   = Op[NotificationRef, NotificationDelivery]{"notifications.test", AdminOnly}
)
