// Package appfile parses the files Berth reads from an app's repository:
// Procfile (ParseProcfile), app.json (ParseAppJSON), and the legacy
// DOKKU_SCALE (ParseScale) and CHECKS (ParseChecks) files.
//
// The parsers do no I/O: they take the file's bytes and return either a value
// that satisfies every rule of its format or an *Error that names the file,
// the line (and, for app.json, the column) and what is wrong, in one line a
// deploy can print as is:
//
//	Procfile line 3: invalid process type "Web_1": use only lower-case letters, ...
//	app.json line 4 col 18: formation.web.quantity must be a non-negative integer
//
// The rules follow Dokku 0.38 (procfile-util, the app-json plugin and
// docker-container-healthchecker). Where Dokku is silent or lax, the choice is
// written on the function or type concerned. Every file may start with a
// UTF-8 byte order mark and use CRLF line endings.
//
// Health checks have one model, Healthcheck: app.json declares them directly,
// and Checks.ToHealthchecks converts a CHECKS file to the same form.
package appfile
