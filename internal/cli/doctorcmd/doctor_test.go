package doctorcmd

import (
	"testing"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/cli/clirun"
	"github.com/berthpaas/berth/internal/cli/clitest"
)

// runCLI runs the command table over fake (package clirun).
var runCLI = clirun.Run

func TestDoctor(t *testing.T) {
	t.Parallel()
	healthy := api.DoctorReport{Checks: []api.DoctorCheck{
		{Check: "engine", Subject: "Docker", OK: true, Message: "version 20.10.24 answers"},
		{Check: "clock", Subject: "clock", OK: true, Message: "within 5s of the engine's"},
	}}
	sick := api.DoctorReport{Checks: append(healthy.Checks,
		api.DoctorCheck{Check: "domain", Subject: "shop.example.com (app shop)", Message: "does not resolve (no such name)", Fix: "berth domains:remove shop shop.example.com"},
		api.DoctorCheck{Check: "backup", Subject: "postgres db", Message: "the last backup failed", Fix: "berth postgres:backup db /b"},
	)}
	clitest.RunCases(t, runCLI, []clitest.Case{
		{Name: "healthy", Args: []string{"doctor"}, Replies: map[string]clitest.Reply{"system.doctor": {Resp: healthy}}, Ops: []string{"system.doctor"},
			Stdout: "ok       Docker: version 20.10.24 answers\nok       clock: within 5s of the engine's\nNo problems found (2 checks).\n"},
		{Name: "problems", Args: []string{"doctor"}, Replies: map[string]clitest.Reply{"system.doctor": {Resp: sick}}, Ops: []string{"system.doctor"}, Code: 1,
			Stdout: "ok       Docker: version 20.10.24 answers\nok       clock: within 5s of the engine's\n" +
				"PROBLEM  shop.example.com (app shop): does not resolve (no such name)\n         fix: berth domains:remove shop shop.example.com\n" +
				"PROBLEM  postgres db: the last backup failed\n         fix: berth postgres:backup db /b\n2 problems found.\n"},
		{Name: "json healthy", Args: []string{"doctor", "--format", "json"}, Replies: map[string]clitest.Reply{"system.doctor": {Resp: healthy}}, Ops: []string{"system.doctor"},
			Has: []string{`"checks":[{"check":"engine","subject":"Docker","ok":true,"message":"version 20.10.24 answers"}`}},
		{Name: "json problems exit 1", Args: []string{"doctor", "--format", "json"}, Replies: map[string]clitest.Reply{"system.doctor": {Resp: sick}}, Ops: []string{"system.doctor"}, Code: 1,
			Has: []string{`"ok":false,"message":"does not resolve (no such name)","fix":"berth domains:remove shop shop.example.com"`}},
		{Args: []string{"doctor", "extra"}, Code: 1, ErrLine: "extra"},
		{Args: []string{"doctor", "--format", "yaml"}, Code: 1, ErrLine: "yaml"},
	})
}
