package notify

import (
	"context"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// Register adds the notifications:* operations to mux.
func (m *Manager) Register(mux *api.Mux) {
	api.Handle(mux, api.NotificationsAdd, func(ctx context.Context, req api.NotificationAddRequest, _ api.Output) (api.Empty, error) {
		return api.Empty{}, m.Add(ctx, req)
	})
	api.Handle(mux, api.NotificationsList, func(ctx context.Context, _ api.Empty, _ api.Output) (api.NotificationTargets, error) {
		res := api.NotificationTargets{Targets: []api.NotificationTarget{}, Dropped: m.Dropped()}
		ts, err := m.List(ctx)
		for _, t := range ts {
			at := api.NotificationTarget{Name: t.Name, URL: t.URL, Format: t.Format, Events: t.Events, App: t.App}
			if at.Events == nil {
				at.Events = []string{}
			}
			if !t.Last.At.IsZero() {
				d := delivery(t.Last)
				at.Last = &d
			}
			res.Targets = append(res.Targets, at)
		}
		return res, err
	})
	api.Handle(mux, api.NotificationsRemove, func(ctx context.Context, req api.NotificationRef, _ api.Output) (api.Empty, error) {
		return api.Empty{}, m.Remove(ctx, req.Name)
	})
	api.Handle(mux, api.NotificationsTest, func(ctx context.Context, req api.NotificationRef, _ api.Output) (api.NotificationDelivery, error) {
		r, err := m.Test(ctx, req.Name)
		return delivery(r), err
	})
}

func delivery(r store.DeliveryResult) api.NotificationDelivery {
	return api.NotificationDelivery{At: r.At, Event: r.Event, Status: r.Status, Error: r.Error, Tries: r.Tries}
}
