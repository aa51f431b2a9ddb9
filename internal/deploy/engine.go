package deploy

import (
	"context"
	"io"
	"time"

	"github.com/berthpaas/berth/internal/docker"
)

// Engine is what deploys need from the container engine. *docker.Client
// implements it; a Swarm or Kubernetes engine would implement the same.
type Engine interface {
	Build(ctx context.Context, buildContext io.Reader, opts docker.BuildOptions, out io.Writer) (string, error)
	InspectImage(ctx context.Context, ref string) (docker.ImageInfo, error)
	TagImage(ctx context.Context, source, target string) error
	RemoveImage(ctx context.Context, ref string, force bool) error
	ListImages(ctx context.Context, labels map[string]string) ([]docker.ImageSummary, error)
	PruneDanglingImages(ctx context.Context) (int, error)
	Commit(ctx context.Context, containerID, ref string, labels map[string]string) (string, error)
	ReadImageFiles(ctx context.Context, image string, paths []string, labels map[string]string) (map[string][]byte, error)

	CreateContainer(ctx context.Context, spec docker.ContainerSpec) (string, error)
	StartContainer(ctx context.Context, id string) error
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	RemoveContainer(ctx context.Context, id string, force bool) error
	RenameContainer(ctx context.Context, id, name string) error
	ListContainers(ctx context.Context, labels map[string]string, all bool) ([]docker.ContainerInfo, error)
	InspectContainer(ctx context.Context, idOrName string) (docker.ContainerDetails, error)
	Wait(ctx context.Context, id string) (int, error)
	Logs(ctx context.Context, id string, opts docker.LogsOptions, stdout, stderr io.Writer) error
	Attach(ctx context.Context, id string, tty bool) (docker.Attachment, error)
	Demux(r io.Reader, stdout, stderr io.Writer) error
	ResizeTTY(ctx context.Context, id string, height, width uint) error
	Exec(ctx context.Context, id string, opts docker.ExecOptions) (int, error)
	Events(ctx context.Context, labels map[string]string) (<-chan docker.Event, <-chan error)
	EnsureNetwork(ctx context.Context, name string, labels map[string]string) error
}

var _ Engine = (*docker.Client)(nil)
