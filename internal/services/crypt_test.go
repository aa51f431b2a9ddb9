package services

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/berthpaas/berth/internal/api"
)

func TestCheckEncryption(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pub := id.Recipient().String()
	for _, c := range []struct {
		req  api.ServiceBackupEncryption
		want string // "" ok, else part of the error
		desc string
	}{
		{api.ServiceBackupEncryption{Passphrase: "s3cret"}, "", "passphrase"},
		{api.ServiceBackupEncryption{Recipients: []string{pub}}, "", "1 age recipient"},
		{api.ServiceBackupEncryption{Recipients: []string{pub, " " + pub + " "}}, "", "2 age recipients"},
		{api.ServiceBackupEncryption{}, "Please specify a passphrase or --recipient", ""},
		{api.ServiceBackupEncryption{Passphrase: "x", Recipients: []string{pub}}, "not both", ""},
		{api.ServiceBackupEncryption{Recipients: []string{"age1nope"}}, "Invalid encryption", ""},
		{api.ServiceBackupEncryption{Recipients: []string{id.String()}}, "Invalid encryption", ""}, // a secret key is no recipient
	} {
		e, err := checkEncryption(c.req)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.req, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want %q", c.req, err, c.want)
		case c.want == "" && e.describe() != c.desc:
			t.Errorf("%+v: describe %q, want %q", c.req, e.describe(), c.desc)
		}
	}
}

// encryptForTest runs dumpEncrypted as writeBackup does.
func encryptForTest(t *testing.T, plain []byte, rs ...age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := dumpEncrypted(&buf, rs, func(w io.Writer) error { _, err := w.Write(plain); return err }); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncryptedBackupRoundTrip(t *testing.T) {
	plain := append([]byte("PGDMP"), bytes.Repeat([]byte("row data "), 20000)...)

	// No recipients: the dump as it is, and openBackup passes it through.
	if got := encryptForTest(t, plain); !bytes.Equal(got, plain) {
		t.Fatal("a dump without encryption was changed")
	}
	r, err := openBackup(bytes.NewReader(plain), "f", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, plain) {
		t.Fatal("openBackup changed a plain dump")
	}

	// A passphrase (a low work factor to keep the test fast).
	sr, err := age.NewScryptRecipient("right horse")
	if err != nil {
		t.Fatal(err)
	}
	sr.SetWorkFactor(10)
	enc := encryptForTest(t, plain, sr)
	if !bytes.HasPrefix(enc, []byte(ageMagic)) || bytes.Contains(enc, []byte("row data")) {
		t.Fatalf("not encrypted: %q", enc[:40])
	}
	if _, err := openBackup(bytes.NewReader(enc), "f.age", nil); err == nil || !strings.Contains(err.Error(), "is encrypted: give --passphrase") {
		t.Errorf("no key: %v", err)
	}
	ids, _ := decryptIdentities("wrong horse", "", backupEncryption{})
	if _, err := openBackup(bytes.NewReader(enc), "f.age", ids); err == nil || !strings.Contains(err.Error(), "(wrong passphrase or identity); nothing was changed") || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrong passphrase: %v", err)
	}
	// The service's own passphrase is the default; a given one wins.
	for _, ids := range [][]age.Identity{mustIDs(t, "", "", backupEncryption{Passphrase: "right horse"}), mustIDs(t, "right horse", "", backupEncryption{Passphrase: "other"})} {
		r, err := openBackup(bytes.NewReader(enc), "f.age", ids)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("decrypted %d bytes, %v", len(got), err)
		}
	}

	// age recipients; the identity decrypts, another one does not.
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	enc = encryptForTest(t, plain, id.Recipient())
	r, err = openBackup(bytes.NewReader(enc), "f.age", mustIDs(t, "", "# a comment\n"+id.String()+"\n", backupEncryption{}))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, plain) {
		t.Fatal("recipient round trip changed the dump")
	}
	if _, err := openBackup(bytes.NewReader(enc), "f.age", mustIDs(t, "", other.String(), backupEncryption{})); err == nil {
		t.Error("another identity decrypted the backup")
	}
	if _, err := decryptIdentities("", "AGE-SECRET-KEY-NOPE", backupEncryption{}); err == nil || !strings.Contains(err.Error(), "Invalid age identity") {
		t.Errorf("bad identity: %v", err)
	}
}

func mustIDs(t *testing.T, pass, identity string, own backupEncryption) []age.Identity {
	t.Helper()
	ids, err := decryptIdentities(pass, identity, own)
	if err != nil || len(ids) == 0 {
		t.Fatalf("identities: %v", err)
	}
	return ids
}

func TestEncryptedBackupNames(t *testing.T) {
	at := time.Date(2025, 3, 4, 4, 6, 7, 0, time.UTC)
	ts, seq, ok := parseBackupFileName("postgres", "db", "postgres-db-20250304-040607-1.dump.age")
	if !ok || !ts.Equal(at) || seq != 1 {
		t.Errorf("parse of an encrypted name: %v %d %v", ts, seq, ok)
	}
	for _, bad := range []string{"postgres-db-20250304-040607.dump.sha256", "postgres-db-20250304-040607.dump.age.age", "postgres-db-20250304-040607.rdb.age"} {
		if _, _, ok := parseBackupFileName("postgres", "db", bad); ok {
			t.Errorf("%s taken for a backup", bad)
		}
	}
	// An encrypted and a plain backup of the same second get distinct
	// sequence numbers.
	existing := []backupFile{{Name: "postgres-db-20250304-040607.dump"}}
	if got := nextBackupName("postgres", "db", at, existing, ageExt); got != "postgres-db-20250304-040607-1.dump.age" {
		t.Errorf("next encrypted name = %q", got)
	}
	existing = []backupFile{{Name: "postgres-db-20250304-040607.dump.age"}}
	if got := nextBackupName("postgres", "db", at, existing, ""); got != "postgres-db-20250304-040607-1.dump" {
		t.Errorf("next plain name = %q", got)
	}
}
