package hook

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/berthpaas/berth/internal/api"
)

// Files of a pushed tree a preview deploy reads (docs/previews.md).
const (
	appJSONPath  = "app.json"
	maskSQLPath  = ".berth/preview-mask.sql"
	maxFileBytes = 1 << 20
)

// previews deploys the pushed branches the plan made previews of and
// destroys the previews of deleted branches.
func previews(ctx context.Context, env Env, client api.Caller, app, key string, dec api.PushDecision) error {
	for _, r := range dec.PreviewRemovals {
		branch := strings.TrimPrefix(r.Name, "refs/heads/")
		out := api.Output{Stdout: env.Stdout, Stderr: env.Stdout}
		if _, err := api.PreviewsDestroy.Stream(ctx, client, api.PreviewRef{App: app, Branch: branch, Pushed: true, Key: key}, out); err != nil {
			return err
		}
	}
	for _, r := range dec.Previews {
		if err := previewDeploy(ctx, env, client, app, key, r); err != nil {
			return err
		}
	}
	return nil
}

func previewDeploy(ctx context.Context, env Env, client api.Caller, app, key string, r api.GitRef) error {
	branch := strings.TrimPrefix(r.Name, "refs/heads/")
	req := api.PreviewDeploy{App: app, Key: key, Branch: branch, Rev: r.New}
	var err error
	if req.AppJSON, err = showFile(ctx, r.New, appJSONPath); err != nil {
		return treeError{err}
	}
	if req.MaskSQL, err = showFile(ctx, r.New, maskSQLPath); err != nil {
		return treeError{err}
	}
	fmt.Fprintf(env.Stdout, "-----> Deploying preview of %s (%s, %.12s)\n", app, branch, r.New)
	tree, wait, err := treeArchive(ctx, r.New, branch, false)
	if err != nil {
		return treeError{err}
	}
	_, err = api.PreviewsDeploy.Run(ctx, client, req, &api.Session{Stdin: tree, Stdout: env.Stdout, Stderr: env.Stdout})
	tree.Close()
	if werr := wait(); err == nil && werr != nil {
		err = treeError{werr}
	}
	return err
}

// errTooBig: a file read for a preview is over maxFileBytes.
var errTooBig = errors.New("over 1 MiB")

// showFile is a file of the pushed revision, "" when it has none.
func showFile(ctx context.Context, rev, path string) (string, error) {
	if exec.CommandContext(ctx, "git", "cat-file", "-e", rev+":"+path).Run() != nil {
		return "", nil
	}
	out, err := exec.CommandContext(ctx, "git", "cat-file", "blob", rev+":"+path).Output()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(out) > maxFileBytes {
		return "", fmt.Errorf("%s: %w", path, errTooBig)
	}
	return string(out), nil
}
