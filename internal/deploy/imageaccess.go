package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/release"
)

// imageOwner says which other app of this instance an image belongs to,
// for a caller that may touch only the apps allowed: ref's repository is
// another app's release repository (naming.Names.ImageRepo), or the image's
// labels (nil when it is not on the engine) say it is another app's of this
// instance. "" means the image is no other app's.
func imageOwner(names naming.Names, ref string, labels map[string]string, allowed []string) string {
	if labels[naming.LabelInstance] == names.Instance() {
		if a := labels[naming.LabelApp]; a != "" && !slices.Contains(allowed, a) {
			return a
		}
	}
	repo := imageRepo(ref)
	prefix := names.ImageRepo("")
	if !strings.HasPrefix(repo, prefix) || repo == prefix {
		return ""
	}
	for _, a := range allowed {
		if repo == names.ImageRepo(a) {
			return ""
		}
	}
	return strings.TrimPrefix(repo, prefix)
}

// imageRepo is ref without its tag or digest (and without docker.io's
// "docker.io/" or "docker.io/library/" spelling).
func imageRepo(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	for _, p := range []string{"docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/"} {
		if r, ok := strings.CutPrefix(ref, p); ok {
			return r
		}
	}
	return ref
}

// othersImage returns which other app ref belongs to when the deploy's
// caller is scoped (j.src.Apps not nil), or "".
func (j *job) othersImage(ctx context.Context, ref string) (string, error) {
	if j.src.Apps == nil {
		return "", nil
	}
	var labels map[string]string
	img, err := j.eng.InspectImage(ctx, ref)
	switch {
	case err == nil:
		labels = img.Labels
	case !errors.Is(err, docker.ErrNotFound):
		return "", err
	}
	return imageOwner(j.d.names, ref, labels, j.src.Apps), nil
}

// refuseOthersImages refuses, for a scoped caller, an image deploy of
// another app's image and a Dockerfile that builds from one (FROM,
// COPY --from, RUN --mount from).
func (j *job) refuseOthersImages(ctx context.Context, dockerfile []byte, args map[string]string) error {
	if j.src.Apps == nil {
		return nil
	}
	if j.src.Kind == SourceImage {
		other, err := j.othersImage(ctx, j.src.Ref)
		if err != nil || other == "" {
			return err
		}
		return app.Errorf(app.ErrConflict, "Image %s belongs to app %s: a key for %s may not deploy it", j.src.Ref, other, j.app.Name)
	}
	for _, ref := range release.DockerfileImages(dockerfile, args) {
		other, err := j.othersImage(ctx, ref)
		if err != nil {
			return err
		}
		if other != "" {
			return app.Errorf(app.ErrConflict, "The Dockerfile builds from %s, which belongs to app %s: a key for %s may not build from it", ref, other, j.app.Name)
		}
	}
	return nil
}
