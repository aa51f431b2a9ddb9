package daemon

import (
	"errors"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/deploy"
	"github.com/berthpaas/berth/internal/docker"
	"github.com/berthpaas/berth/internal/store"
)

// kinds maps the domain errors of the packages below the daemon to API
// codes, first match wins.
var kinds = []struct {
	err  error
	code api.Code
}{
	{app.ErrInvalid, api.CodeInvalid},
	{store.ErrAppNotFound, api.CodeAppNotFound},
	{app.ErrNotFound, api.CodeNotFound},
	{store.ErrReleaseNotFound, api.CodeNotFound},
	{store.ErrServiceNotFound, api.CodeNotFound},
	{store.ErrKeyNotFound, api.CodeNotFound},
	{store.ErrNoCert, api.CodeNotFound},
	{store.ErrNoBackupSchedule, api.CodeNotFound},
	{app.ErrLocked, api.CodeLocked},
	{app.ErrConflict, api.CodeConflict},
	{store.ErrAppExists, api.CodeConflict},
	{store.ErrServiceExists, api.CodeConflict},
	{store.ErrKeyExists, api.CodeConflict},
	{store.ErrRedirectTaken, api.CodeConflict},
	{docker.ErrEngineUnavailable, api.CodeUnavailable},
	{app.ErrNoSpace, api.CodeUnavailable},
	{store.ErrDiskFull, api.CodeUnavailable},
}

// codeOf returns the API code of a domain error in err's chain.
func codeOf(err error) (api.Code, bool) {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.code, true
		}
	}
	return "", false
}

// mapError is the mux's error mapper (api.ErrorMapper): it turns the plain
// errors of the packages below the daemon into API errors.
//
//   - A failed deploy step (deploy.StepError) says so in its own words
//     ("Deploy failed at step build: ...", then its detail lines), with the
//     code of its cause when that is an API or domain error or an absent
//     engine, and invalid otherwise.
//   - An API error in the chain passes through as it is (nil here).
//   - A domain error (app.Error, app.InvalidError, a store sentinel) gets
//     its kind's code; its message is the one line it carries, or the
//     error's text for a bare sentinel.
//   - An absent engine is unavailable, with the first line of its error.
//
// Anything else (nil here) is left to the mux: cancellation and internal
// errors.
func mapError(err error) *api.Error {
	var se *deploy.StepError
	if errors.As(err, &se) {
		code := api.CodeInvalid
		var ae *api.Error
		_, domain := app.Message(se.Err)
		if errors.As(se.Err, &ae) {
			code = ae.Code
		} else if domain || errors.Is(se.Err, docker.ErrEngineUnavailable) {
			code, _ = codeOf(se.Err)
		}
		return api.Errorf(code, "%s", se.Error())
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return nil
	}
	code, ok := codeOf(err)
	if !ok {
		return nil
	}
	if msg, ok := app.Message(err); ok {
		return api.Errorf(code, "%s", msg)
	}
	return api.Errorf(code, "%s", firstLine(err.Error()))
}

var _ api.ErrorMapper = mapError
