package deploy

import (
	"context"
	"io"
	"time"

	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/release"
)

// The deployer asks the container engine for what it needs through these
// small interfaces, each named for what its consumers do with it, so that a
// function says what it touches (stopAndRemove takes Containers, pruning
// takes Images) and a fake or a second scheduler implements them one at a
// time. *docker.Client implements them all.

// Builder builds a release's image from its source (the build step).
type Builder interface {
	Build(ctx context.Context, buildContext io.Reader, opts docker.BuildOptions, out io.Writer) (string, error)
}

// Images are release images: inspected, tagged (image deploys, rollback),
// committed (predeploy's file changes), listed and removed (pruning,
// destroy, cleanup).
type Images interface {
	InspectImage(ctx context.Context, ref string) (docker.ImageInfo, error)
	TagImage(ctx context.Context, source, target string) error
	Commit(ctx context.Context, containerID, ref string, labels map[string]string) (string, error)
	ListImages(ctx context.Context, labels map[string]string) ([]docker.ImageSummary, error)
	RemoveImage(ctx context.Context, ref string, force bool) error
	PruneDanglingImages(ctx context.Context) (int, error)
}

// Containers are process and one-off containers through their life:
// created, started, inspected, renamed at the switch, waited for, stopped
// and removed.
type Containers interface {
	CreateContainer(ctx context.Context, spec docker.ContainerSpec) (string, error)
	StartContainer(ctx context.Context, id string) error
	InspectContainer(ctx context.Context, idOrName string) (docker.ContainerDetails, error)
	ListContainers(ctx context.Context, labels map[string]string, all bool) ([]docker.ContainerInfo, error)
	RenameContainer(ctx context.Context, id, name string) error
	Wait(ctx context.Context, id string) (int, error)
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	RemoveContainer(ctx context.Context, id string, force bool) error
}

// Execer runs a command inside a running container (command health
// checks, enter).
type Execer interface {
	Exec(ctx context.Context, id string, opts docker.ExecOptions) (int, error)
}

// Logs are containers' output (logs, one-off steps, a failed container's
// last lines) and the engine's events (logs --tail follows new containers).
type Logs interface {
	Logs(ctx context.Context, id string, opts docker.LogsOptions, stdout, stderr io.Writer) error
	Events(ctx context.Context, labels map[string]string) (<-chan docker.Event, <-chan error)
}

// Attacher connects a one-off container to an interactive session (run).
type Attacher interface {
	Attach(ctx context.Context, id string, tty bool) (docker.Attachment, error)
	Demux(r io.Reader, stdout, stderr io.Writer) error
	ResizeTTY(ctx context.Context, id string, height, width uint) error
}

// Engine is the whole of what the deployer uses, for the connector that
// hands it one engine: the small interfaces above and release.ImageReader (the
// files of an image).
type Engine interface {
	Builder
	Images
	Containers
	Execer
	Logs
	Attacher
	release.ImageReader
}

var (
	_ Builder             = (*docker.Client)(nil)
	_ Images              = (*docker.Client)(nil)
	_ Containers          = (*docker.Client)(nil)
	_ Execer              = (*docker.Client)(nil)
	_ Logs                = (*docker.Client)(nil)
	_ Attacher            = (*docker.Client)(nil)
	_ release.ImageReader = (*docker.Client)(nil)
	_ Engine              = (*docker.Client)(nil)
)
