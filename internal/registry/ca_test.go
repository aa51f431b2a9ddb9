package registry

import (
	"bytes"
	"sync"
	"testing"
)

// The daemon asks for the CA from several places at once at its start:
// they all get the one CA, and none sees half of it.
func TestLoadOrCreateCAAtOnce(t *testing.T) {
	dir := t.TempDir()
	cas := make([]*CA, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range cas {
		wg.Go(func() { cas[i], errs[i] = LoadOrCreateCA(dir) })
	}
	wg.Wait()
	for i := range cas {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(cas[i].PEM, cas[0].PEM) {
			t.Fatalf("caller %d got another CA than caller 0", i)
		}
	}
}
