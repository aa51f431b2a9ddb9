// Package apierr turns the errors of the packages below the API (app's
// validation errors, store's missing app) into the API's errors, worded as
// Dokku words them. It is shared by every package that registers
// operations (daemon, gitserver, routing, services), which each had a copy.
package apierr

import (
	"errors"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

// Invalid turns a validation error from package app into the API's invalid
// error; other errors are returned as they are.
func Invalid(err error) error {
	var ie *app.InvalidError
	if errors.As(err, &ie) {
		return api.Errorf(api.CodeInvalid, "%s", ie.Msg)
	}
	return err
}

// App reads an app, mapping an empty name and a missing app to the API's
// errors.
func App(tx *store.Tx, name string) (store.App, error) {
	if name == "" {
		return store.App{}, api.Errorf(api.CodeInvalid, "Please specify an app to run the command on")
	}
	a, err := tx.App(name)
	if errors.Is(err, store.ErrAppNotFound) {
		return a, api.AppNotFound(name)
	}
	return a, err
}
