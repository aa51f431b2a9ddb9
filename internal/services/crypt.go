package services

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/berthpaas/berth/internal/api"
	"github.com/berthpaas/berth/internal/store"
)

// Encrypted backups (KIND:backup-set-encryption): age, with a passphrase
// (an scrypt recipient) or age public keys. The setting is kept in the
// service's root, readable by root only. Backups are encrypted as they are
// streamed; restores decrypt, and a wrong key fails before anything is
// written to the service.

// backupEncryptionFile holds a service's encryption setting (JSON, 0600).
const backupEncryptionFile = "BACKUP-ENCRYPTION"

// ageExt ends the names of encrypted backups.
const ageExt = ".age"

// ageMagic starts every age file.
const ageMagic = "age-encryption.org/v1"

// backupEncryption is how a service's backups are encrypted.
type backupEncryption struct {
	Passphrase string   `json:"passphrase,omitempty"`
	Recipients []string `json:"recipients,omitempty"`
}

func (e backupEncryption) describe() string {
	switch {
	case e.Passphrase != "":
		return "passphrase"
	case len(e.Recipients) == 1:
		return "1 age recipient"
	case len(e.Recipients) > 1:
		return fmt.Sprintf("%d age recipients", len(e.Recipients))
	}
	return ""
}

// recipients are the age recipients of the setting.
func (e backupEncryption) recipients() ([]age.Recipient, error) {
	if e.Passphrase != "" {
		r, err := age.NewScryptRecipient(e.Passphrase)
		if err != nil {
			return nil, err
		}
		return []age.Recipient{r}, nil
	}
	var out []age.Recipient
	for _, s := range e.Recipients {
		rs, err := age.ParseRecipients(strings.NewReader(s))
		if err != nil {
			return nil, fmt.Errorf("age recipient %q: %v", s, err)
		}
		out = append(out, rs...)
	}
	if len(out) == 0 {
		return nil, errors.New("no passphrase or recipient")
	}
	return out, nil
}

// checkEncryption validates backup-set-encryption's arguments.
func checkEncryption(req api.ServiceBackupEncryption) (backupEncryption, error) {
	e := backupEncryption{Passphrase: req.Passphrase}
	for _, r := range req.Recipients {
		if r = strings.TrimSpace(r); r != "" {
			e.Recipients = append(e.Recipients, r)
		}
	}
	switch {
	case e.Passphrase == "" && len(e.Recipients) == 0:
		return e, api.Errorf(api.CodeInvalid, "Please specify a passphrase or --recipient age1...")
	case e.Passphrase != "" && len(e.Recipients) > 0:
		return e, api.Errorf(api.CodeInvalid, "Give a passphrase or --recipient keys, not both (age encrypts to one passphrase alone)")
	}
	if _, err := e.recipients(); err != nil {
		return e, api.Errorf(api.CodeInvalid, "Invalid encryption: %v", err)
	}
	return e, nil
}

func (m *Manager) backupEncryptionPath(svc store.Service) string {
	return filepath.Join(m.serviceRoot(svc.Kind, svc.Name), backupEncryptionFile)
}

// backupEncryption reads the service's setting; ok is false when its
// backups are not encrypted.
func (m *Manager) backupEncryption(svc store.Service) (e backupEncryption, ok bool, err error) {
	data, err := os.ReadFile(m.backupEncryptionPath(svc))
	if errors.Is(err, os.ErrNotExist) {
		return e, false, nil
	}
	if err != nil {
		return e, false, err
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, false, fmt.Errorf("%s: %w", m.backupEncryptionPath(svc), err)
	}
	return e, true, nil
}

func (m *Manager) serviceBackupSetEncryption(ctx context.Context, req api.ServiceBackupEncryption, _ api.Output) (api.Empty, error) {
	_, svc, err := m.loadService(ctx, req.ServiceRef)
	if err != nil {
		return api.Empty{}, err
	}
	e, err := checkEncryption(req)
	if err != nil {
		return api.Empty{}, err
	}
	data, _ := json.Marshal(e)
	defer m.lock(req.Kind, req.Name)()
	if err := writeFileAtomic(m.backupEncryptionPath(svc), data, 0o600); err != nil {
		return api.Empty{}, api.Errorf(api.CodeInternal, "Backup encryption not saved: %v", err)
	}
	m.log.Info("service backup encryption set", "kind", svc.Kind, "name", svc.Name, "with", e.describe())
	return api.Empty{}, nil
}

func (m *Manager) serviceBackupUnsetEncryption(ctx context.Context, req api.ServiceRef, _ api.Output) (api.BackupChange, error) {
	_, svc, err := m.loadService(ctx, req)
	if err != nil {
		return api.BackupChange{}, err
	}
	defer m.lock(req.Kind, req.Name)()
	err = os.Remove(m.backupEncryptionPath(svc))
	if errors.Is(err, os.ErrNotExist) {
		return api.BackupChange{}, nil
	}
	if err != nil {
		return api.BackupChange{}, api.Errorf(api.CodeInternal, "Backup encryption not removed: %v", err)
	}
	m.log.Info("service backup encryption removed", "kind", svc.Kind, "name", svc.Name)
	return api.BackupChange{Changed: true}, nil
}

// decryptIdentities are the keys a restore tries: the request's, else the
// service's own passphrase.
func decryptIdentities(passphrase, identity string, own backupEncryption) ([]age.Identity, error) {
	switch {
	case identity != "":
		ids, err := age.ParseIdentities(strings.NewReader(identity))
		if err != nil {
			return nil, api.Errorf(api.CodeInvalid, "Invalid age identity: %v", err)
		}
		return ids, nil
	case passphrase != "":
		id, err := age.NewScryptIdentity(passphrase)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalid, "Invalid passphrase: %v", err)
		}
		return []age.Identity{id}, nil
	case own.Passphrase != "":
		id, err := age.NewScryptIdentity(own.Passphrase)
		if err != nil {
			return nil, err
		}
		return []age.Identity{id}, nil
	}
	return nil, nil
}

// openBackup returns the plain dump of a backup read from r: r itself, or
// r decrypted when it is an age file. Decrypting checks the key first: a
// wrong one fails here, before the service is touched.
func openBackup(r io.Reader, name string, ids []age.Identity) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(ageMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if string(head) != ageMagic {
		return br, nil
	}
	if len(ids) == 0 {
		return nil, api.Errorf(api.CodeInvalid, "Backup %s is encrypted: give --passphrase or --identity-file, or set this service's passphrase with backup-set-encryption; nothing was changed", name)
	}
	d, err := age.Decrypt(br, ids...)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "Backup %s cannot be decrypted with the key given (wrong passphrase or identity); nothing was changed", name)
	}
	return d, nil
}
