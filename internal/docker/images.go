package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// BuildOptions configures [Client.Build].
type BuildOptions struct {
	// Dockerfile is the Dockerfile's path inside the build context;
	// "" means "Dockerfile".
	Dockerfile string
	// Tags are the references ("name:tag") given to the built image.
	Tags []string
	// Labels are added to the built image, as if by LABEL instructions.
	Labels map[string]string
	// BuildArgs are the values of the Dockerfile's ARGs.
	BuildArgs map[string]string
	// NoCache disables the build cache.
	NoCache bool
}

// BuildError is the error [Client.Build] returns when the engine reports a
// failed build (a RUN step exiting non-zero, a Dockerfile syntax error, a
// missing base image, ...).
type BuildError struct {
	// Msg is the engine's error message, such as
	// "The command '/bin/sh -c exit 3' returned a non-zero code: 3".
	Msg string
	// Tail holds the last output lines (at most buildTailLines) written
	// before the failure, without trailing newlines and without Msg.
	Tail []string
}

// Error returns "build failed: <engine's message>", on one line.
func (e *BuildError) Error() string {
	return "build failed: " + firstLine(e.Msg)
}

// buildTailLines is how many output lines a BuildError keeps.
const buildTailLines = 20

// buildMessage is one message of the engine's build stream. It is declared
// here rather than taken from api/types/jsonstream because older engines
// (20.10) also send the top-level "error" field.
type buildMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	ID          string `json:"id"`
	Progress    string `json:"progress"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// Build builds an image from a tar build context, writing the build's output lines
// (decoded from the engine's JSON stream: "stream", "status", "error") to out as they arrive.
// On failure the error is *BuildError{Msg string; Tail []string} whose Error() is one line
// ("build failed: <engine's error message>") and Tail holds the last ~20 output lines.
//
// The classic builder is used (the engine's /build endpoint without a
// BuildKit session), intermediate containers are always removed, and
// nothing is pulled unless the base image is missing. out may be nil. The
// returned ID is the full "sha256:..." image ID. Errors reaching the engine
// are not *BuildError: they match ErrEngineUnavailable or the context's
// error.
func (c *Client) Build(ctx context.Context, buildContext io.Reader, opts BuildOptions, out io.Writer) (imageID string, err error) {
	if out == nil {
		out = io.Discard
	}
	var args map[string]*string
	if len(opts.BuildArgs) > 0 {
		args = make(map[string]*string, len(opts.BuildArgs))
		for k, v := range opts.BuildArgs {
			args[k] = &v
		}
	}
	res, err := c.api.ImageBuild(ctx, buildContext, client.ImageBuildOptions{
		Tags:        opts.Tags,
		Dockerfile:  opts.Dockerfile,
		Labels:      opts.Labels,
		BuildArgs:   args,
		NoCache:     opts.NoCache,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		if ctx.Err() != nil || isUnavailable(err) {
			return "", c.wrap(err, "build")
		}
		// The engine refused the build outright (no Dockerfile in the
		// context, bad options, ...).
		return "", &BuildError{Msg: engineMessage(err)}
	}
	defer res.Body.Close()

	tail := &lineTail{max: buildTailLines}
	w := StripEscapes(io.MultiWriter(out, tail)) // the RUN steps' stderr comes in colour
	var builtID string
	dec := json.NewDecoder(res.Body)
	for {
		var m buildMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if ctx.Err() != nil {
				return "", c.wrap(ctx.Err(), "build")
			}
			return "", c.wrap(err, "build: reading the engine's output")
		}
		msg := m.Error
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			msg = m.ErrorDetail.Message
		}
		if msg != "" {
			lines := tail.lines()
			fmt.Fprintln(out, strings.TrimRight(msg, "\n"))
			return "", &BuildError{Msg: strings.TrimSpace(msg), Tail: lines}
		}
		switch {
		case m.Stream != "":
			_, _ = io.WriteString(w, m.Stream)
		case m.Status != "":
			line := m.Status
			if m.ID != "" {
				line = m.ID + ": " + line
			}
			if m.Progress != "" {
				line += " " + m.Progress
			}
			_, _ = io.WriteString(w, line+"\n")
		case len(m.Aux) > 0:
			var aux struct {
				ID string `json:"ID"`
			}
			if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
				builtID = aux.ID
			}
		}
	}
	if builtID == "" {
		// Engines that do not send the aux message end with
		// "Successfully built <short id>".
		for _, l := range slices.Backward(tail.lines()) {
			if s, ok := strings.CutPrefix(l, "Successfully built "); ok {
				builtID = strings.TrimSpace(s)
				break
			}
		}
		if builtID == "" {
			return "", &BuildError{Msg: "the engine did not report the built image's ID", Tail: tail.lines()}
		}
		info, err := c.InspectImage(ctx, builtID)
		if err != nil {
			return "", err
		}
		builtID = info.ID
	}
	return builtID, nil
}

// lineTail is an io.Writer that keeps the last max complete or partial
// lines written to it.
type lineTail struct {
	max     int
	done    []string
	partial strings.Builder
}

func (t *lineTail) Write(p []byte) (int, error) {
	s := string(p)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			t.partial.WriteString(s)
			return len(p), nil
		}
		t.partial.WriteString(s[:i])
		t.done = append(t.done, strings.TrimRight(t.partial.String(), "\r"))
		t.partial.Reset()
		if len(t.done) > 2*t.max {
			t.done = slices.Clone(t.done[len(t.done)-t.max:])
		}
		s = s[i+1:]
	}
}

// lines returns the kept lines, oldest first, skipping blank ones and the
// builder's "Removing intermediate container" notes.
func (t *lineTail) lines() []string {
	all := slices.Clone(t.done)
	if t.partial.Len() > 0 {
		all = append(all, t.partial.String())
	}
	all = slices.DeleteFunc(all, func(l string) bool {
		return strings.TrimSpace(l) == "" || strings.HasPrefix(l, "Removing intermediate container ")
	})
	if len(all) > t.max {
		all = all[len(all)-t.max:]
	}
	return all
}

// ImageInfo describes an image, as returned by [Client.InspectImage].
type ImageInfo struct {
	ID         string // full "sha256:..." ID
	Cmd        []string
	Entrypoint []string
	Env        []string // KEY=VALUE
	WorkingDir string
	// ExposedPorts lists the image's exposed TCP ports, sorted; UDP and SCTP
	// ports are left out.
	ExposedPorts []int
	// ExposedUDP lists the image's exposed UDP ports, sorted.
	ExposedUDP []int
	Labels     map[string]string
	Created    time.Time
	// Tags are the image's references ("name:tag"), if any.
	Tags []string
}

// InspectImage describes the image named by ref (a name:tag, an ID or an ID
// prefix). A missing image gives an error matching [ErrNotFound].
func (c *Client) InspectImage(ctx context.Context, ref string) (ImageInfo, error) {
	res, err := c.api.ImageInspect(ctx, ref)
	if err != nil {
		return ImageInfo{}, c.wrap(err, "inspect image %q", ref)
	}
	info := ImageInfo{ID: res.ID, Tags: res.RepoTags}
	info.Created, _ = time.Parse(time.RFC3339Nano, res.Created)
	if cfg := res.Config; cfg != nil {
		info.Cmd = cfg.Cmd
		info.Entrypoint = cfg.Entrypoint
		info.Env = cfg.Env
		info.WorkingDir = cfg.WorkingDir
		info.Labels = cfg.Labels
		info.ExposedPorts = tcpPorts(maps.Keys(cfg.ExposedPorts))
		info.ExposedUDP = protoPorts(maps.Keys(cfg.ExposedPorts), "udp")
	}
	return info, nil
}

// tcpPorts returns the sorted TCP port numbers among port specs such as
// "5000/tcp", "53/udp" or "8080" (TCP by default).
func tcpPorts(specs iter.Seq[string]) []int { return protoPorts(specs, "tcp") }

// protoPorts lists the ports of specs ("3000/tcp", "53/udp"; no protocol
// is tcp) of one protocol, sorted.
func protoPorts(specs iter.Seq[string], want string) []int {
	var ports []int
	for spec := range specs {
		num, proto, _ := strings.Cut(spec, "/")
		if proto == "" {
			proto = "tcp"
		}
		if proto != want {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil {
			ports = append(ports, n)
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// TagImage gives the image source (a reference or ID) the additional
// reference target ("name:tag"; a missing tag means "latest"). A missing
// source gives an error matching [ErrNotFound].
func (c *Client) TagImage(ctx context.Context, source, target string) error {
	_, err := c.api.ImageTag(ctx, client.ImageTagOptions{Source: source, Target: target})
	return c.wrap(err, "tag image %q as %q", source, target)
}

// RemoveImage removes the reference ref, and the image itself once no
// reference is left, like `docker image rm`: untagged parent images are
// removed too. With force an image with several tags (when ref is an ID) or
// used by stopped containers is removed as well. A missing image gives an
// error matching [ErrNotFound].
func (c *Client) RemoveImage(ctx context.Context, ref string, force bool) error {
	_, err := c.api.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: force, PruneChildren: true})
	return c.wrap(err, "remove image %q", ref)
}

// ImageSummary is one image listed by [Client.ListImages].
type ImageSummary struct {
	ID      string   // full "sha256:..." ID
	Tags    []string // "name:tag" references; empty for an untagged image
	Labels  map[string]string
	Created time.Time
}

// ListImages lists the top-level images carrying all the given labels: a
// label with value "" only has to be present, any other value must match
// exactly. No labels lists every image.
func (c *Client) ListImages(ctx context.Context, labels map[string]string) ([]ImageSummary, error) {
	res, err := c.api.ImageList(ctx, client.ImageListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, c.wrap(err, "list images")
	}
	out := make([]ImageSummary, 0, len(res.Items))
	for _, im := range res.Items {
		out = append(out, ImageSummary{
			ID:      im.ID,
			Tags:    slices.DeleteFunc(slices.Clone(im.RepoTags), func(t string) bool { return t == "<none>:<none>" }),
			Labels:  im.Labels,
			Created: time.Unix(im.Created, 0),
		})
	}
	return out, nil
}

// labelFilters turns label=value pairs into an engine "label" filter
// ("" = the label is present with any value).
func labelFilters(labels map[string]string) client.Filters {
	f := client.Filters{}
	for k, v := range labels {
		if v == "" {
			f.Add("label", k)
		} else {
			f.Add("label", k+"="+v)
		}
	}
	return f
}

// PruneMinAge is how old a dangling image must be for
// [Client.PruneDanglingImages] to remove it.
//
// A classic build's newest intermediate image is briefly dangling (between
// one step's end and the next step's container); removing it makes that
// build fail ("failed to get digest sha256:..."). The images a deploy
// leaves dangling were built at an earlier deploy, so they are old enough.
const PruneMinAge = 10 * time.Minute

// PruneDanglingImages removes dangling images (untagged and not used by any
// container, like `docker image prune`) created more than [PruneMinAge] ago,
// so that builds in progress, by this process or any other, are not
// disturbed. It returns how many images were deleted, counting untagged
// parent images removed with them.
func (c *Client) PruneDanglingImages(ctx context.Context) (removed int, err error) {
	res, err := c.api.ImagePrune(ctx, client.ImagePruneOptions{
		Filters: client.Filters{}.
			Add("dangling", "true").
			Add("until", PruneMinAge.String()),
	})
	if err != nil {
		return 0, c.wrap(err, "prune dangling images")
	}
	for _, d := range res.Report.ImagesDeleted {
		if d.Deleted != "" {
			removed++
		}
	}
	return removed, nil
}

// Commit a (stopped) container to a new image, changing nothing else (Cmd/Entrypoint of the source image kept); used to keep predeploy's file changes.
//
// The new image gets the container's filesystem changes, the source
// image's configuration (Cmd, Entrypoint, Env, WorkingDir, User,
// ExposedPorts, Volumes, StopSignal, Healthcheck, labels), with labels
// added or overriding, and the reference ref ("name:tag"; "" for an
// untagged image). An image without a working directory gets "/" (the
// same thing, spelled out).
//
// The engine always merges the container's own settings into a commit:
// an environment variable set on the container but absent from the image
// is added to the new image's Env. So that no value set on the container
// (an app's config: passwords, keys) reaches the image's metadata, each
// such variable is given in the commit as "NAME=" (empty): the engine then
// adds nothing, and the image carries the source image's Env plus those
// names with empty values (a container created from it that sets the
// variable overrides it, as before). Labels set on the container but absent
// from the image are still carried into the new image (they are inherited
// by containers created from the image unless they set them too), and if
// the source image has no Cmd, the container's Cmd becomes the new image's.
// A running container is paused while committing. A missing container
// gives an error matching [ErrNotFound].
func (c *Client) Commit(ctx context.Context, containerID, ref string, labels map[string]string) (imageID string, err error) {
	ctr, err := c.api.ContainerInspect(ctx, containerID, client.ContainerInspectOptions{})
	if err != nil {
		return "", c.wrap(err, "commit container %q", containerID)
	}
	img, err := c.api.ImageInspect(ctx, ctr.Container.Image)
	if err != nil {
		return "", c.wrap(err, "commit container %q: source image %s", containerID, ctr.Container.Image)
	}
	cfg := &container.Config{Labels: map[string]string{}}
	if ic := img.Config; ic != nil {
		cfg.User = ic.User
		cfg.Env = slices.Clone(ic.Env)
		cfg.Cmd = slices.Clone(ic.Cmd)
		cfg.Entrypoint = slices.Clone(ic.Entrypoint)
		cfg.WorkingDir = ic.WorkingDir
		cfg.Volumes = maps.Clone(ic.Volumes)
		cfg.StopSignal = ic.StopSignal
		cfg.Healthcheck = ic.Healthcheck
		cfg.OnBuild = slices.Clone(ic.OnBuild)
		cfg.Shell = slices.Clone(ic.Shell)
		//lint:ignore SA1019 a commit keeps the source image's config whole, legacy fields included
		cfg.ArgsEscaped = ic.ArgsEscaped
		maps.Copy(cfg.Labels, ic.Labels)
		if len(ic.ExposedPorts) > 0 {
			cfg.ExposedPorts = network.PortSet{}
			for spec := range ic.ExposedPorts {
				if p, err := network.ParsePort(spec); err == nil {
					cfg.ExposedPorts[p] = struct{}{}
				}
			}
		}
	}
	// Where the image has nothing, the engine would take the container's
	// value: give explicit equivalents of "nothing" instead.
	if ctr.Container.Config != nil {
		cfg.Env = blankEnv(cfg.Env, ctr.Container.Config.Env)
	}
	if cfg.Entrypoint == nil {
		cfg.Entrypoint = []string{} // non-nil: no entrypoint
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	maps.Copy(cfg.Labels, labels)
	res, err := c.api.ContainerCommit(ctx, ctr.Container.ID, client.ContainerCommitOptions{
		Reference: ref,
		Config:    cfg,
	})
	if err != nil {
		return "", c.wrap(err, "commit container %q", containerID)
	}
	return res.ID, nil
}

// blankEnv returns image (an image's Env) with "NAME=" appended for each
// variable of container (a container's Env) that image does not set, so
// that a commit of the container carries none of the container's values.
func blankEnv(image, container []string) []string {
	set := map[string]bool{}
	for _, kv := range image {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := slices.Clone(image)
	for _, kv := range container {
		k, _, _ := strings.Cut(kv, "=")
		if k == "" || set[k] {
			continue
		}
		set[k] = true
		out = append(out, k+"=")
	}
	return out
}
