// Package release is what a release is made of, worked out without a
// container engine: its source tree (unpacking an archive or a git tree,
// streaming it as a build context), its app files (Procfile, app.json,
// CHECKS, DOKKU_SCALE: where each is looked for and found, parsed, kept
// with the release), and its process plan (which processes run, how many
// of each, on which web port). The deploy pipeline (internal/deploy) calls
// it; it reads images only through the one-method ImageReader.
package release
