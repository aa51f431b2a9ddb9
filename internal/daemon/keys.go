package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func keyInfo(k store.Key) api.KeyInfo {
	apps := k.Apps
	if apps == nil {
		apps = []string{}
	}
	return api.KeyInfo{Name: k.Name, Fingerprint: k.Fingerprint, Admin: k.Admin, Apps: apps, CreatedAt: k.CreatedAt}
}

// parsePublicKey reads exactly one public key in authorized_keys form.
func parsePublicKey(text string) (ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	rest := []byte(text)
	for len(strings.TrimSpace(string(rest))) > 0 {
		pub, _, _, r, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			if len(keys) == 0 {
				return nil, api.Errorf(api.CodeInvalid, "Invalid ssh public key: %v; give one line as in ~/.ssh/id_ed25519.pub", firstLine(err.Error()))
			}
			break
		}
		keys = append(keys, pub)
		rest = r
	}
	switch len(keys) {
	case 0:
		return nil, api.Errorf(api.CodeInvalid, "No ssh public key given; pass a file or pipe one line as in ~/.ssh/id_ed25519.pub")
	case 1:
		return keys[0], nil
	}
	return nil, api.Errorf(api.CodeInvalid, "The input holds %d keys; add one key at a time, each under its own name", len(keys))
}

func validateApps(apps []string) error {
	for _, a := range apps {
		if err := app.ValidateName(a); err != nil {
			return invalid(err)
		}
	}
	return nil
}

func (s *Service) keysAdd(ctx context.Context, req api.KeyAdd, _ api.Output) (api.KeyInfo, error) {
	if !keyNameRE.MatchString(req.Name) {
		return api.KeyInfo{}, api.Errorf(api.CodeInvalid, "Invalid key name %q: use letters, digits, '.', '_', '@' and '-' (at most 64)", req.Name)
	}
	if err := validateApps(req.Apps); err != nil {
		return api.KeyInfo{}, err
	}
	pub, err := parsePublicKey(req.PublicKey)
	if err != nil {
		return api.KeyInfo{}, err
	}
	k := store.Key{
		Name: req.Name, Fingerprint: ssh.FingerprintSHA256(pub),
		PublicKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
		Admin:     len(req.Apps) == 0, Apps: req.Apps, CreatedAt: s.now(),
	}
	err = s.store.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.KeyByName(k.Name); err == nil {
			return api.Errorf(api.CodeConflict, "A key named %s already exists; remove it first or pick another name", k.Name)
		}
		if other, err := tx.KeyByFingerprint(k.Fingerprint); err == nil {
			return api.Errorf(api.CodeConflict, "This key is already added, as %s (%s)", other.Name, other.Fingerprint)
		}
		var err error
		k, err = tx.AddKey(k)
		return err
	})
	if err != nil {
		return api.KeyInfo{}, err
	}
	s.log.Info("ssh key added", "name", k.Name, "fingerprint", k.Fingerprint, "admin", k.Admin, "apps", k.Apps)
	return keyInfo(k), s.writeAuthorizedKeys(ctx)
}

func (s *Service) keysList(ctx context.Context, _ api.Empty, _ api.Output) (api.KeyList, error) {
	res := api.KeyList{Keys: []api.KeyInfo{}}
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		keys, err := tx.Keys()
		for _, k := range keys {
			res.Keys = append(res.Keys, keyInfo(k))
		}
		return err
	})
	return res, err
}

func (s *Service) findKey(tx *store.Tx, ref api.KeyRef) (store.Key, error) {
	var k store.Key
	var err error
	switch {
	case ref.Fingerprint != "":
		k, err = tx.KeyByFingerprint(ref.Fingerprint)
	case ref.Name != "":
		k, err = tx.KeyByName(ref.Name)
	default:
		return k, api.Errorf(api.CodeInvalid, "Please specify a key name or --fingerprint FP")
	}
	if errors.Is(err, store.ErrKeyNotFound) {
		return k, api.Errorf(api.CodeNotFound, "No ssh key %s%s; see ssh-keys:list", ref.Name, ref.Fingerprint)
	}
	return k, err
}

func (s *Service) keysRemove(ctx context.Context, req api.KeyRef, _ api.Output) (api.KeyInfo, error) {
	var k store.Key
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if k, err = s.findKey(tx, req); err != nil {
			return err
		}
		return tx.RemoveKey(k)
	})
	if err != nil {
		return api.KeyInfo{}, err
	}
	s.log.Info("ssh key removed", "name", k.Name, "fingerprint", k.Fingerprint)
	return keyInfo(k), s.writeAuthorizedKeys(ctx)
}

func (s *Service) keysAccess(ctx context.Context, req api.KeyAccess, _ api.Output) (api.KeyInfo, error) {
	if !req.Admin && len(req.Apps) == 0 {
		return api.KeyInfo{}, api.Errorf(api.CodeInvalid, "Give the apps the key may touch (APP[,APP...]) or admin")
	}
	if err := validateApps(req.Apps); err != nil {
		return api.KeyInfo{}, err
	}
	var k store.Key
	err := s.store.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if k, err = s.findKey(tx, api.KeyRef{Name: req.Name}); err != nil {
			return err
		}
		if req.Admin {
			req.Apps = nil
		}
		k.Admin, k.Apps = req.Admin, req.Apps
		return tx.SetKeyAccess(k, req.Admin, req.Apps)
	})
	if err == nil {
		s.log.Info("ssh key access changed", "name", k.Name, "admin", k.Admin, "apps", k.Apps)
	}
	return keyInfo(k), err
}

// writeAuthorizedKeys rewrites the OpenSSH authorized_keys file (when one
// is configured) with a forced-command line per key, atomically.
func (s *Service) writeAuthorizedKeys(ctx context.Context) error {
	if s.authorizedKeys == "" {
		return nil
	}
	var keys []store.Key
	if err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { keys, err = tx.Keys(); return err }); err != nil {
		return err
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Name < keys[j].Name })
	var b strings.Builder
	b.WriteString("# Written by Berth (ssh-keys:add/remove); edits here are lost.\n")
	for _, k := range keys {
		// The key name is restricted to [A-Za-z0-9._@-]: safe inside quotes.
		fmt.Fprintf(&b, "command=\"%s ssh-command --socket %s --key %s\",restrict,pty %s %s\n", s.berthBin, s.sshSocket, k.Name, k.PublicKey, k.Name)
	}
	dir := filepath.Dir(s.authorizedKeys)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("authorized_keys: %w", err)
	}
	tmp := s.authorizedKeys + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("authorized_keys: %w", err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.authorizedKeys)
}
