package deploy

import (
	"context"

	"github.com/berthpaas/berth/internal/docker"
)

// ContainerOptions is what an app's settings add to the containers Berth
// creates for it: the docker-options of the deploy and run phases, storage
// mounts and resource limits and reservations. The daemon fills it from
// the containeropts package (Config.ContainerOptions); the deployer applies
// it to every process container (phase "deploy", with its process type) and
// to one-off containers (phase "run", process type "run").
type ContainerOptions interface {
	Apply(phase, process string, spec *docker.ContainerSpec) error
}

// containerOptions reads app's container options; nil when the deployer
// was built without them.
func (d *Deployer) containerOptions(ctx context.Context, app string) (ContainerOptions, error) {
	if d.containerOpts == nil {
		return nil, nil
	}
	return d.containerOpts(ctx, app)
}

// apply adds the app's container options of phase to spec. Berth's own
// labels are kept whatever the options say.
func (s appSettings) apply(phase, process string, spec *docker.ContainerSpec) error {
	if s.opts == nil {
		return nil
	}
	own := map[string]string{}
	for k, v := range spec.Labels {
		own[k] = v
	}
	if err := s.opts.Apply(phase, process, spec); err != nil {
		return err
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	for k, v := range own {
		spec.Labels[k] = v
	}
	return nil
}

// noteSkippedBuildOptions says which docker-options of the build phase the
// build does not apply (it takes --build-arg and --no-cache; Dokku's
// Dockerfile builder skips the others the same way).
func noteSkippedBuildOptions(j *job, skipped []string) {
	for _, o := range skipped {
		j.detail("Skipping docker option %s: the build applies only --build-arg and --no-cache", o)
	}
}
