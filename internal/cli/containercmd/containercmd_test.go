package containercmd

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// runCLI runs the command table over fake (package clirun).
var runCLI = clirun.Run

type reply = clitest.Reply

func TestDockerOptionsCommands(t *testing.T) {
	t.Parallel()
	opts := map[string]reply{"docker-options.report": {Resp: api.DockerOptionsValues{Options: map[string][]string{
		"build": {"--build-arg X=Y", "--link foo"}, "deploy": {"-v /logs:/logs"}, "deploy.web": {"-p 8080:5000"}}}}}
	clitest.RunCases(t, runCLI, []clitest.Case{
		{Args: []string{"docker-options:add", "--process", "web", "shop", "deploy", "-p 8080:5000"}, Replies: map[string]reply{"docker-options.update": {}},
			Ops: []string{"docker-options.update"}, Reqs: map[string]string{"docker-options.update": `{"app":"shop","verb":"add","phases":["deploy"],"processes":["web"],"option":"-p 8080:5000"}`}},
		{Name: "options in words, flags included", Args: []string{"docker-options:add", "shop", "build,run", "--build-arg", "X=Y", "--link", "foo"}, Replies: map[string]reply{"docker-options.update": {}},
			Ops: []string{"docker-options.update"}, Reqs: map[string]string{"docker-options.update": `{"app":"shop","verb":"add","phases":["build","run"],"option":"--build-arg X=Y --link foo"}`}},
		{Args: []string{"docker-options:clear", "shop"}, Replies: map[string]reply{"docker-options.update": {}},
			Ops: []string{"docker-options.update"}, Reqs: map[string]string{"docker-options.update": `{"app":"shop","verb":"clear"}`}},
		{Args: []string{"docker-options:add", "shop"}, Code: 1, ErrLine: "Please specify phase(s)"},
		{Args: []string{"docker-options:list", "shop", "--phase", "deploy", "--process", "web"}, Replies: map[string]reply{"docker-options.list": {Resp: api.DockerOptionsListing{Options: []string{"-p 8080:5000"}}}},
			Ops: []string{"docker-options.list"}, Reqs: map[string]string{"docker-options.list": `{"app":"shop","phase":"deploy","process":"web"}`}, Stdout: "-p 8080:5000\n"},
		{Args: []string{"docker-options:report", "shop", "--docker-options-deploy.web"}, Replies: opts, Ops: []string{"docker-options.report"}, Stdout: "-p 8080:5000\n"},
		{Args: []string{"docker-options:report", "shop"}, Replies: opts, Ops: []string{"docker-options.report"},
			Has: []string{"=====> shop docker-options information", "Docker options build:", "--build-arg X=Y --link foo", "Docker options deploy web:"}},
		{Args: []string{"docker-options:report", "shop", "--format", "json"}, Replies: opts, Ops: []string{"docker-options.report"},
			Has: []string{`"build-list":["--build-arg X=Y","--link foo"]`, `"deploy.web":"-p 8080:5000"`, `"docker-options-deploy.web":"-p 8080:5000"`, `"run-list":[]`}},
	})
}

func TestResourceAndStorageCommands(t *testing.T) {
	t.Parallel()
	at := api.StorageAttachments{Attachments: []api.StorageAttachment{
		{HostPath: "/tmp/mount", ContainerPath: "/mount", Phases: []string{"deploy", "run"}, Process: "_default_"},
		{EntryName: "gone", Phases: []string{"deploy"}, Process: "_default_", Missing: true},
	}}
	list := map[string]reply{"storage.list": {Resp: at}}
	clitest.RunCases(t, runCLI, []clitest.Case{
		{Args: []string{"resource:limit", "--memory", "512MB", "--process-type", "web", "shop"}, Replies: map[string]reply{"resource.update": {}},
			Ops: []string{"resource.update"}, Reqs: map[string]string{"resource.update": `{"app":"shop","process":"web","kind":"limit","values":{"memory":"512MB"}}`}},
		{Args: []string{"resource:reserve-clear", "shop"}, Replies: map[string]reply{"resource.update": {}},
			Ops: []string{"resource.update"}, Reqs: map[string]string{"resource.update": `{"app":"shop","kind":"reserve","clear":true}`}},
		{Args: []string{"resource:report", "shop", "--resource-_default_.limit.memory"}, Replies: map[string]reply{"resource.report": {Resp: api.ResourceValues{Values: map[string]string{"_default_.limit.memory": "512MB"}}}},
			Ops: []string{"resource.report"}, Stdout: "512MB\n"},
		{Args: []string{"--quiet", "storage:list", "shop"}, Replies: list, Ops: []string{"storage.list"}, Stdout: "/tmp/mount:/mount\n"},
		{Args: []string{"storage:list", "shop", "--format", "json"}, Replies: list, Ops: []string{"storage.list"}, Stdout: `[{"host_path":"/tmp/mount","container_path":"/mount"}]` + "\n"},
		{Args: []string{"storage:report", "shop", "--storage-deploy-mounts"}, Replies: list, Ops: []string{"storage.list"}, Stdout: "-v /tmp/mount:/mount\n"},
		{Args: []string{"storage:report", "shop", "--format", "json"}, Replies: list, Ops: []string{"storage.list"},
			Has:    []string{`"build-mounts":""`, `"storage-run-mounts":"-v /tmp/mount:/mount"`, `"attachment.1.process-type":"_default_"`, `"storage-attachment.1.readonly":"false"`},
			Stderr: " !     Skipping attachment on \"shop\": missing entry \"gone\"\n"},
		{Args: []string{"storage:mount", "shop", "/a:/b", "--volume-readonly"}, Replies: map[string]reply{"storage.mount": {}},
			Ops: []string{"storage.mount"}, Reqs: map[string]string{"storage.mount": `{"app":"shop","mount":"/a:/b","readonly":true}`}},
		{Args: []string{"storage:ensure-directory", "shop", "--chown", "false"}, Replies: map[string]reply{"storage.ensure-directory": {}},
			Ops: []string{"storage.ensure-directory"}, Reqs: map[string]string{"storage.ensure-directory": `{"name":"shop","chown":"false"}`}},
		{Name: "destroy asks for the name", Args: []string{"storage:destroy", "db"}, Stdin: "other\n", Replies: map[string]reply{"storage.info": {Resp: api.StorageEntry{Name: "db"}}},
			Ops: []string{"storage.info"}, Code: 1, Stderr: " !     WARNING: Potentially Destructive Action\n !     This command will destroy storage entry db (its host directory  is kept).\n !     To proceed, type \"db\"\n\n> " + " !     Confirmation did not match db. Aborted.\n"},
		{Args: []string{"storage:set", "db", "mode", "0770", "--chown", "herokuish"}, Code: 1, ErrLine: "either a property and a value or flags, not both"},
		{Args: []string{"storage:set", "db"}, Code: 1, ErrLine: "No property specified"},
	})
}
