package gitserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/apierr"
	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/store"
)

var keyNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`) })

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
			return apierr.Invalid(err)
		}
	}
	return nil
}

func (s *Server) keysAdd(ctx context.Context, req api.KeyAdd, out api.Output) (api.KeyInfo, error) {
	if !keyNameRE().MatchString(req.Name) {
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
	return keyInfo(k), s.syncOpenSSH(ctx, out)
}

func (s *Server) keysList(ctx context.Context, _ api.Empty, _ api.Output) (api.KeyList, error) {
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

func (s *Server) findKey(tx *store.Tx, ref api.KeyRef) (store.Key, error) {
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

func (s *Server) keysRemove(ctx context.Context, req api.KeyRef, out api.Output) (api.KeyInfo, error) {
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
	return keyInfo(k), s.syncOpenSSH(ctx, out)
}

func (s *Server) keysAccess(ctx context.Context, req api.KeyAccess, out api.Output) (api.KeyInfo, error) {
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
	if err != nil {
		return api.KeyInfo{}, err
	}
	s.log.Info("ssh key access changed", "name", k.Name, "admin", k.Admin, "apps", k.Apps)
	// The lines name the key, not its access; this repairs what needs it.
	return keyInfo(k), s.syncOpenSSH(ctx, out)
}

// SyncOpenSSH sets up or repairs OpenSSH mode at the daemon's start,
// whatever was installed first; a failure is logged.
func (s *Server) SyncOpenSSH(ctx context.Context) {
	s.syncOpenSSH(ctx, api.Output{})
}

// syncOpenSSH brings OpenSSH mode in step with the registered keys (see
// openSSH.sync). A key change is done once stored: a failure here is a
// warning to the user, who is pointed at ssh-keys:report.
func (s *Server) syncOpenSSH(ctx context.Context, out api.Output) error {
	s.ReloadSettings(ctx)
	return s.syncKeys(ctx, out)
}

// syncKeys is syncOpenSSH without looking at the config file.
func (s *Server) syncKeys(ctx context.Context, out api.Output) error {
	if s.openssh == nil {
		return nil
	}
	s.openssh.mu.Lock()
	defer s.openssh.mu.Unlock()
	var keys []store.Key
	if err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { keys, err = tx.Keys(); return err }); err != nil {
		return err
	}
	err := s.openssh.sync(keys)
	if err != nil {
		s.log.Warn("openssh mode: could not set up or repair", "err", err)
		if out.Stderr != nil {
			fmt.Fprintf(out.Stderr, " !     OpenSSH mode is not in step: %s; see berth ssh-keys:report\n", firstLine(err.Error()))
		}
	}
	return nil
}

// OpenSSHReport is OpenSSH mode's state as ssh-keys:report shows it (for
// berth doctor).
func (s *Server) OpenSSHReport(ctx context.Context) (api.OpenSSHReport, error) {
	r, err := s.keysReport(ctx, api.Empty{}, api.Output{})
	return r.OpenSSH, err
}

func (s *Server) keysReport(ctx context.Context, _ api.Empty, _ api.Output) (api.SSHReport, error) {
	s.ReloadSettings(ctx)
	var keys []store.Key
	if err := s.store.Tx(ctx, func(tx *store.Tx) (err error) { keys, err = tx.Keys(); return err }); err != nil {
		return api.SSHReport{}, err
	}
	r := api.SSHReport{BuiltinServer: s.sshAddr, Keys: len(keys), Gateway: api.GatewayReport{Path: s.sshSocket}}
	if fi, err := os.Stat(s.sshSocket); err == nil {
		r.Gateway.Mode = fmt.Sprintf("%04o", fi.Mode().Perm())
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().Perm()&0o060 == 0o060 {
			if g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid))); err == nil {
				r.Gateway.Group = g.Name
			} else {
				r.Gateway.Group = strconv.Itoa(int(st.Gid))
			}
		}
	}
	if s.openssh != nil {
		s.openssh.mu.Lock()
		r.OpenSSH = s.openssh.check(keys)
		s.openssh.mu.Unlock()
		if r.OpenSSH.Active && r.Gateway.Group != s.openssh.group {
			r.OpenSSH.Problems = append(r.OpenSSH.Problems, fmt.Sprintf("the gateway socket %s is not usable by group %s (mode %s, group %q)", s.sshSocket, s.openssh.group, r.Gateway.Mode, r.Gateway.Group))
		}
	}
	return r, nil
}
