package deploy

import (
	"time"
)

// DeployEnd is how a deploy, a redeploy (config:set, ps:restart) or a
// rollback ended, as Config.Ended is told: once its steps ran, or when a
// release it made live was switched back by the watch (Err then names
// step "watch").
type DeployEnd struct {
	App     string
	Release int
	// Redeploy: new containers of the live release; RollbackOf: the
	// release a rollback deployed again (0: not a rollback).
	Redeploy   bool
	RollbackOf int
	// By is who deployed (the lock's holder).
	By string
	// Took is how long its steps took (0 for a switch back).
	Took time.Duration
	// Err is nil when the release went live; else the failed step.
	Err *StepError
}

// ended tells Config.Ended how j ended.
func (j *job) ended(took time.Duration, err *StepError) {
	if j.d.ended == nil {
		return
	}
	e := DeployEnd{App: j.app.Name, Release: j.rel.Number, Redeploy: j.redeploy, By: j.holder, Took: took, Err: err}
	if j.rollbackOf != nil {
		e.RollbackOf = j.rollbackOf.Number
	}
	j.d.ended(e)
}
