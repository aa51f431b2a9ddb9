package docker

import (
	"context"
	"maps"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Event is a container event from [Client.Events].
type Event struct {
	// Action is the engine's action: "create", "start", "die", "stop",
	// "kill", "restart", "destroy", "oom", "pause", "unpause", ... Exec and
	// health events carry details after a colon, as the engine sends them
	// ("exec_start: sh -c ...", "health_status: healthy").
	Action      string
	ContainerID string
	// Name is the container's name (without "/"); Image the image it
	// was created from.
	Name, Image string
	// ExitCode is the exit code reported with "die" events (0 otherwise).
	ExitCode int
	// Labels are the container's labels. The engine sends them mixed with
	// its own attributes (name, image, exitCode, signal, execID,
	// execDuration); those keys are left out unless the Events call
	// filtered on a label of that name.
	Labels map[string]string
	Time   time.Time
}

// eventAttributes are the attributes the engine adds to a container
// event's actor next to the container's labels.
var eventAttributes = []string{"name", "image", "exitCode", "signal", "execID", "execDuration"}

// Events streams container events (start, die, destroy, ...) for containers with the given labels until ctx ends.
//
// Only events after the call are delivered: the subscription is in place
// when Events returns. A label with value "" only has to be present. The
// event channel is closed when the stream ends; the error channel then
// receives the error that ended it, if any (nothing when ctx ended), and
// is closed too. Receive from the event channel promptly: the engine drops
// subscribers that fall far behind.
func (c *Client) Events(ctx context.Context, labels map[string]string) (<-chan Event, <-chan error) {
	f := labelFilters(labels).Add("type", string(events.ContainerEventType))
	res := c.api.Events(ctx, client.EventsListOptions{Filters: f})
	out := make(chan Event)
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		defer close(out)
		for {
			select {
			case m := <-res.Messages:
				ev := Event{
					Action:      string(m.Action),
					ContainerID: m.Actor.ID,
					Name:        m.Actor.Attributes["name"],
					Image:       m.Actor.Attributes["image"],
					Labels:      maps.Clone(m.Actor.Attributes),
					Time:        time.Unix(0, m.TimeNano),
				}
				if m.TimeNano == 0 {
					ev.Time = time.Unix(m.Time, 0)
				}
				if code, ok := m.Actor.Attributes["exitCode"]; ok {
					ev.ExitCode, _ = strconv.Atoi(code)
				}
				for _, k := range eventAttributes {
					if _, isLabel := labels[k]; !isLabel {
						delete(ev.Labels, k)
					}
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case err, ok := <-res.Err:
				if ok && err != nil && ctx.Err() == nil {
					errc <- c.wrap(err, "events")
				}
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc
}
