package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDiskFullWrite: on a full disk (a real 2 MB tmpfs) a write fails with
// ErrDiskFull in one line naming the database, nothing of the transaction
// is applied, and once space is freed writes work and the database is
// intact.
func TestDiskFullWrite(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (e2e TestDiskFullDuringDeployAndConfigSet covers this too)")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	file := filepath.Join(mnt, "berth.db")
	s := openAt(t, file)
	ctx := context.Background()
	var a App
	if err := s.Tx(ctx, func(tx *Tx) (err error) {
		if a, err = tx.CreateApp("shop", time.Now()); err != nil {
			return err
		}
		return tx.SetConfig(a.Scope(), map[string]string{"KEPT": "before"})
	}); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 64<<10)); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	big := strings.Repeat("x", 512<<10)
	err = s.Tx(ctx, func(tx *Tx) error {
		return tx.SetConfig(a.Scope(), map[string]string{"KEPT": "after", "BIG": big})
	})
	if !errors.Is(err, ErrDiskFull) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "The disk is full writing the database "+file+"; nothing was changed") {
		t.Fatalf("write on a full disk = %v, want ErrDiskFull in one line", err)
	}
	var cfg map[string]string
	if err := s.Tx(ctx, func(tx *Tx) (err error) { cfg, err = tx.Config(a.Scope()); return err }); err != nil {
		t.Fatal(err)
	}
	if cfg["KEPT"] != "before" || cfg["BIG"] != "" {
		t.Errorf("the refused write was applied: KEPT=%q, BIG %d bytes", cfg["KEPT"], len(cfg["BIG"]))
	}
	os.Remove(filler)
	if err := s.Tx(ctx, func(tx *Tx) error { return tx.SetConfig(a.Scope(), map[string]string{"KEPT": "after", "BIG": big}) }); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	if err := s.CheckIntegrity(ctx); err != nil {
		t.Fatal(err)
	}
}
