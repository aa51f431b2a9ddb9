package sshserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// loadOrCreateHostKey reads the private host key at path, creating an
// ed25519 key there first if the file does not exist. An existing file that
// cannot be parsed is an error: silently replacing it would change the
// server's identity.
func loadOrCreateHostKey(path string, log *slog.Logger) (gossh.Signer, error) {
	signer, err := readHostKey(path, log)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return signer, err
	}
	if err := createHostKey(path); err != nil {
		return nil, err
	}
	signer, err = readHostKey(path, log)
	if err != nil {
		return nil, err
	}
	log.Info("ssh host key created", "path", path, "fingerprint", gossh.FingerprintSHA256(signer.PublicKey()))
	return signer, nil
}

func readHostKey(path string, log *slog.Logger) (gossh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sshserver: reading host key: %w", err)
	}
	signer, err := gossh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("sshserver: parsing host key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("ssh host key is readable by others; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	return signer, nil
}

// createHostKey writes a new ed25519 key to path, atomically and with mode
// 0600. If another process created path concurrently, its key is kept.
func createHostKey(path string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("sshserver: generating host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "berth host key")
	if err != nil {
		return fmt.Errorf("sshserver: encoding host key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sshserver: creating host key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".berth-hostkey-*")
	if err != nil {
		return fmt.Errorf("sshserver: creating host key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("sshserver: creating host key: %w", err)
	}
	if _, err := tmp.Write(pem.EncodeToMemory(block)); err != nil {
		tmp.Close()
		return fmt.Errorf("sshserver: writing host key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sshserver: writing host key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sshserver: writing host key: %w", err)
	}
	// Link, unlike Rename, never replaces a key another process wrote.
	err = os.Link(tmp.Name(), path)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return nil
	default:
		// File systems without hard links.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return fmt.Errorf("sshserver: installing host key: %w", err)
		}
		return nil
	}
}
