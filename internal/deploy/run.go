package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/logs"
	"github.com/berthpaas/berth/internal/naming"
	"github.com/berthpaas/berth/internal/release"
	"github.com/berthpaas/berth/internal/store"
)

// RunOptions describe a one-off container.
type RunOptions struct {
	Cmd      []string
	Env      map[string]string
	TTY      bool
	Detached bool
	// TTLSeconds is how long the container may run before RetireRuns
	// stops it (0: DefaultRunTTL).
	TTLSeconds int
	// Labels are extra labels (not berth.*: those are Berth's); cron
	// tasks carry Dokku's.
	Labels map[string]string
	// Quiet leaves out Berth's own lines (Dokku's --quiet).
	Quiet bool
}

// DefaultRunTTL is how long a one-off container may run without
// --ttl-seconds: a day, as in Dokku.
const DefaultRunTTL = 86400

// Streams are the ends of an interactive command (run, enter): its input,
// its output, and the terminal's size (height, width) when it changes (nil
// without a terminal). A nil Stdin is no input.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Resize         <-chan [2]uint
}

// ExitError carries the exit code of a one-off command.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

func (d *Deployer) deployedState(ctx context.Context, appName string) (state, error) {
	s, err := d.state(ctx, appName)
	if err != nil {
		return s, err
	}
	if !s.deployed {
		return s, app.Invalidf("%s has not been deployed", appName)
	}
	return s, nil
}

func randomID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// runSpec is a one-off container of the live release.
func (d *Deployer) runSpec(ctx context.Context, s state, opts RunOptions) (docker.ContainerSpec, string, error) {
	set, err := d.settings(ctx, s.app)
	if err != nil {
		return docker.ContainerSpec{}, "", err
	}
	id := randomID()
	env := map[string]string{}
	for k, v := range set.env {
		env[k] = v
	}
	env["DYNO"] = "run." + id
	if s.live.GitRev != "" {
		env["GIT_REV"] = s.live.GitRev
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	cmd := opts.Cmd
	// A first word naming a Procfile type runs that type's command.
	if len(cmd) > 0 {
		if pc, ok := s.live.Processes[cmd[0]]; ok && pc != "" {
			words, err := release.Command(pc, env)
			if err != nil {
				return docker.ContainerSpec{}, "", err
			}
			cmd = append(words, cmd[1:]...)
		}
	}
	name := d.names.RunContainer(s.app.Name, id)
	ttl := opts.TTLSeconds
	if ttl <= 0 {
		ttl = DefaultRunTTL
	}
	labels := map[string]string{}
	for k, v := range opts.Labels {
		if strings.HasPrefix(k, "berth.") {
			return docker.ContainerSpec{}, "", app.Invalidf("Label %s is Berth's own; use a label outside berth.*", k)
		}
		labels[k] = v
	}
	for k, v := range map[string]string{
		naming.LabelInstance: d.names.Instance(), naming.LabelApp: s.app.Name, naming.LabelKind: naming.KindRun,
		naming.LabelRelease: strconv.Itoa(s.live.Number), naming.LabelProcess: "run",
		naming.LabelDeadline: strconv.Itoa(ttl),
	} {
		labels[k] = v
	}
	spec := docker.ContainerSpec{
		Name:      name,
		Image:     s.live.Image,
		Cmd:       cmd,
		Env:       envList(env),
		Labels:    labels,
		Init:      true,
		TTY:       opts.TTY,
		OpenStdin: !opts.Detached,
		Network:   set.network,
	}
	spec.LogMaxSize = set.logMaxSize
	return spec, name, set.apply("run", "run", &spec)
}

// Run runs a one-off command of the live release attached to the session and
// returns its exit code. The container is removed afterwards.
func (d *Deployer) Run(ctx context.Context, appName string, opts RunOptions, s Streams) (int, error) {
	st, err := d.deployedState(ctx, appName)
	if err != nil {
		return 0, err
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return 0, err
	}
	spec, _, err := d.runSpec(ctx, st, opts)
	if err != nil {
		return 0, err
	}
	if len(opts.Cmd) > 0 && st.live.Processes[opts.Cmd[0]] != "" && s.Stdout != nil && !opts.Quiet {
		// Dokku's line, on stdout before the command's output as Dokku
		// prints it (its tests read the command's last line with tail).
		fmt.Fprintf(s.Stdout, "-----> Found '%s' in Procfile, running that command\n", opts.Cmd[0])
	}
	id, err := eng.CreateContainer(ctx, spec)
	if err != nil {
		return 0, err
	}
	cleanup := context.WithoutCancel(ctx)
	defer eng.RemoveContainer(cleanup, id, true)
	att, err := eng.Attach(ctx, id, opts.TTY)
	if err != nil {
		return 0, err
	}
	defer att.Close()
	waitc := make(chan struct{})
	var code int
	var waitErr error
	go func() {
		code, waitErr = eng.Wait(ctx, id)
		close(waitc)
	}()
	if err := eng.StartContainer(ctx, id); err != nil {
		return startExitCode(err)
	}
	go func() {
		if s.Stdin != nil { // nil is no input
			io.Copy(att, s.Stdin)
		}
		att.CloseWrite()
	}()
	if opts.TTY && s.Resize != nil {
		go func() {
			for sz := range s.Resize {
				eng.ResizeTTY(ctx, id, sz[0], sz[1])
			}
		}()
	}
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		if opts.TTY {
			io.Copy(s.Stdout, att)
		} else {
			eng.Demux(att, s.Stdout, s.Stderr)
		}
	}()
	select {
	case <-waitc:
	case <-ctx.Done():
		eng.StopContainer(cleanup, id, 2*time.Second)
		<-waitc
		return 0, ctx.Err()
	}
	select {
	case <-outDone:
	case <-time.After(2 * time.Second):
	}
	return code, waitErr
}

// startExitCode maps a failed start to the exit code a shell would give: 127
// for a command not found, 126 for one that cannot be executed.
func startExitCode(err error) (int, error) {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127, app.Invalidf("%s", commandProblem(msg))
	case strings.Contains(msg, "permission denied"):
		return 126, app.Invalidf("%s", commandProblem(msg))
	}
	return 0, err
}

func commandProblem(msg string) string {
	if i := strings.Index(msg, "exec: "); i >= 0 {
		msg = msg[i+len("exec: "):]
	}
	return strings.TrimSuffix(strings.TrimSpace(firstLine(msg)), ": unknown")
}

// RunDetached starts a one-off container in the background and returns its
// name. The engine removes it when it exits.
func (d *Deployer) RunDetached(ctx context.Context, appName string, opts RunOptions) (string, error) {
	st, err := d.deployedState(ctx, appName)
	if err != nil {
		return "", err
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return "", err
	}
	opts.Detached, opts.TTY = true, false
	spec, name, err := d.runSpec(ctx, st, opts)
	if err != nil {
		return "", err
	}
	spec.AutoRemove = true
	id, err := eng.CreateContainer(ctx, spec)
	if err != nil {
		return "", err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		eng.RemoveContainer(ctx, id, true)
		if _, mapped := startExitCode(err); mapped != nil {
			return "", mapped
		}
		return "", err
	}
	return name, nil
}

// Containers lists an app's containers of a kind ("" for all), sorted by name.
func (d *Deployer) Containers(ctx context.Context, appName, kind string, all bool) ([]docker.ContainerInfo, error) {
	if _, err := d.state(ctx, appName); err != nil {
		return nil, err
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	labels := d.names.AppLabels(appName)
	if kind != "" {
		labels[naming.LabelKind] = kind
	}
	cs, err := eng.ListContainers(ctx, labels, all)
	if err != nil {
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs, nil
}

// StopRun stops and removes one-off container name of app.
func (d *Deployer) StopRun(ctx context.Context, appName, name string) error {
	cs, err := d.Containers(ctx, appName, naming.KindRun, true)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Name == name || c.ID == name || strings.HasPrefix(c.ID, name) && len(name) >= 12 {
			eng, err := d.connect(ctx)
			if err != nil {
				return err
			}
			eng.StopContainer(ctx, c.ID, 10*time.Second)
			return eng.RemoveContainer(ctx, c.ID, true)
		}
	}
	return app.Errorf(app.ErrNotFound, "No one-off container %s of %s; see run:list %s", name, appName, appName)
}

// RetireRuns stops and removes the one-off containers of app (every app
// when app is "") that have run longer than their deadline label allows,
// saying so on out. Containers of any kind carrying the label count, so
// other one-off kinds (cron) are retired the same way.
func (d *Deployer) RetireRuns(ctx context.Context, appName string, out io.Writer) error {
	labels := map[string]string{naming.LabelInstance: d.names.Instance()}
	if appName != "" {
		if _, err := d.state(ctx, appName); err != nil {
			return err
		}
		labels = d.names.AppLabels(appName)
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	cs, err := eng.ListContainers(ctx, labels, false)
	if err != nil {
		return err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	now := d.now()
	var failed []string
	for _, c := range cs {
		secs, err := strconv.Atoi(c.Labels[naming.LabelDeadline])
		if err != nil || secs <= 0 || now.Sub(c.Created) <= time.Duration(secs)*time.Second {
			continue
		}
		fmt.Fprintf(out, "       Retiring container %s\n", c.Name)
		eng.StopContainer(ctx, c.ID, 10*time.Second)
		if err := eng.RemoveContainer(ctx, c.ID, true); err != nil {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("unable to retire %s", strings.Join(failed, ", "))
	}
	return nil
}

// Enter runs cmd inside a running process container of the live release
// (TYPE.N, or the first container of TYPE, or web.1 by default).
func (d *Deployer) Enter(ctx context.Context, appName, target string, cmd []string, tty bool, s Streams) (int, error) {
	if target == "" {
		target = "web"
	}
	if len(cmd) == 0 {
		cmd = []string{d.enterShell(ctx, appName)}
	}
	if eng, err := d.connect(ctx); err == nil {
		// A Swarm app's tasks are found through the manager.
		if onSwarm, code, err := d.swarmEnter(ctx, eng, appName, target, cmd, tty, s); onSwarm || err != nil {
			return code, err
		}
	}
	cs, err := d.liveContainers(ctx, appName, false)
	if err != nil {
		return 0, err
	}
	var found *docker.ContainerInfo
	for i := range cs {
		slot := cs[i].Labels[naming.LabelProcess] + "." + cs[i].Labels[naming.LabelIndex]
		if slot == target || (!strings.Contains(target, ".") && cs[i].Labels[naming.LabelProcess] == target && (found == nil || slot < found.Labels[naming.LabelProcess]+"."+found.Labels[naming.LabelIndex])) {
			found = &cs[i]
			if slot == target {
				break
			}
		}
	}
	if found == nil {
		return 0, app.Errorf(app.ErrNotFound, "No running container %s for %s; see ps:report %s", target, appName, appName)
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return 0, err
	}
	code, err := eng.Exec(ctx, found.ID, docker.ExecOptions{Cmd: cmd, TTY: tty, Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, Resize: s.Resize})
	if err != nil {
		return startExitCode(err)
	}
	return code, nil
}

// Logs writes the output of an app's process containers, each line
// prefixed by "APP[TYPE.N]: " (with its time unless Quiet). With Follow it
// keeps going, picking up containers started by later deploys, until ctx
// ends.
func (d *Deployer) Logs(ctx context.Context, appName string, opts logs.Options, out io.Writer) error {
	st, err := d.state(ctx, appName)
	if err != nil {
		return err
	}
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	// The containers of the last failed deploy are gone: their kept output
	// comes first.
	d.writeFailedOutput(appName, opts, out)
	if onSwarm, err := d.swarmLogs(ctx, st, eng, opts, out); onSwarm || err != nil {
		return err
	}
	labels := d.names.KindLabels(appName, naming.KindProcess)
	if opts.Process != "" {
		labels[naming.LabelProcess] = opts.Process
	}
	if !opts.Follow && st.live.Number > 0 {
		// The live release's containers, as Dokku's logs: an old web
		// draining after a deploy does not mix in its lines. Following
		// takes every container, to carry on across deploys.
		labels[naming.LabelRelease] = strconv.Itoa(st.live.Number)
	}
	return logs.Stream(ctx, eng, appName, labels, opts, out)
}

// Cleanup removes dangling images, exited containers of this instance that
// no app needs (one-off ones, and those of retired releases), and the images
// of releases beyond the kept ones.
func (d *Deployer) Cleanup(ctx context.Context, out io.Writer) error {
	eng, err := d.connect(ctx)
	if err != nil {
		return err
	}
	var apps []store.App
	if err := d.store.Tx(ctx, func(tx *store.Tx) (err error) { apps, err = tx.Apps(); return err }); err != nil {
		return err
	}
	stopped := map[string]bool{}
	for _, a := range apps {
		if a.Stopped {
			stopped[a.Name] = true
		}
		d.pruneReleases(ctx, eng, a)
	}
	cs, err := eng.ListContainers(ctx, map[string]string{naming.LabelInstance: d.names.Instance()}, true)
	if err != nil {
		return err
	}
	removed := 0
	for _, c := range cs {
		if c.State != "exited" && c.State != "dead" && c.State != "created" {
			continue
		}
		if c.Labels[naming.LabelKind] == naming.KindProcess && stopped[c.Labels[naming.LabelApp]] {
			continue // ps:stop keeps them for ps:start
		}
		if err := eng.RemoveContainer(ctx, c.ID, true); err == nil {
			removed++
		}
	}
	n, err := eng.PruneDanglingImages(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "-----> Removed %d stopped containers and %d dangling images\n", removed, n)
	return nil
}

// enterShell is what enter runs without a command: scheduler:set APP
// shell (Dokku's key), else /bin/sh.
func (d *Deployer) enterShell(ctx context.Context, appName string) string {
	shell := ""
	d.store.Tx(ctx, func(tx *store.Tx) error {
		a, err := tx.App(appName)
		if err != nil {
			return err
		}
		shell, err = setting(tx, a, "scheduler", "shell")
		return err
	})
	if shell == "" {
		return "/bin/sh"
	}
	return shell
}
