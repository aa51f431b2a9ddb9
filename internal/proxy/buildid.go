package proxy

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"sync"
)

// ExecutableID identifies the running binary: its Go build ID, which
// changes with any change to the binary (a version set with -ldflags
// included), or else a hash of its contents.
var ExecutableID = sync.OnceValue(func() string {
	path := "/proc/self/exe"
	if _, err := os.Stat(path); err != nil {
		if path, err = os.Executable(); err != nil {
			return ""
		}
	}
	return FileID(path)
})

// FileID identifies the binary at path as ExecutableID does.
func FileID(path string) string {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		if sec := f.Section(".note.go.buildid"); sec != nil {
			if b, err := sec.Data(); err == nil && len(b) > 16 {
				// An ELF note: namesz, descsz, type, "Go\0\0", then the ID.
				descsz := f.ByteOrder.Uint32(b[4:8])
				if int(16+descsz) <= len(b) {
					return string(b[16 : 16+descsz])
				}
			}
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))[:32]
}
