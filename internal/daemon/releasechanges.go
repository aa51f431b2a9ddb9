package daemon

import (
	"context"
	"slices"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// registerReleaseChanges serves releases.changes: each release's config
// keys against its predecessor's, and its deploy's duration.
func (s *Service) registerReleaseChanges(m *api.Mux) {
	api.Handle(m, api.ReleasesChanges, func(ctx context.Context, req api.AppRef, _ api.Output) (api.ReleaseChanges, error) {
		rels, err := s.deployer.Releases(ctx, req.App)
		if err != nil {
			return api.ReleaseChanges{}, err
		}
		return releaseChanges(rels), nil
	})
}

// releaseChanges compares each release (newest first, as the store lists
// them) with the next older one.
func releaseChanges(rels []store.Release) api.ReleaseChanges {
	res := api.ReleaseChanges{Releases: []api.ReleaseChange{}}
	for i, r := range rels {
		c := api.ReleaseChange{Number: r.Number, StartedBy: r.StartedBy}
		for _, st := range r.Steps {
			c.DeployMS += st.Duration.Milliseconds()
		}
		var prev map[string]string
		if i+1 < len(rels) {
			c.Previous = rels[i+1].Number
			prev = rels[i+1].Config
		}
		for k, v := range r.Config {
			old, ok := prev[k]
			switch {
			case !ok:
				c.Added = append(c.Added, k)
			case old != v:
				c.Changed = append(c.Changed, k)
			}
		}
		for k := range prev {
			if _, ok := r.Config[k]; !ok {
				c.Removed = append(c.Removed, k)
			}
		}
		slices.Sort(c.Added)
		slices.Sort(c.Removed)
		slices.Sort(c.Changed)
		res.Releases = append(res.Releases, c)
	}
	return res
}
