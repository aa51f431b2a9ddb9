package store

import (
	"errors"
	"fmt"
	"path/filepath"
)

// ErrDiskFull is the kind of error of a write the database could not make
// because its disk is full (SQLITE_FULL). The transaction was rolled back:
// nothing of it is applied.
var ErrDiskFull = errors.New("database disk full")

// sqliteFull is SQLite's primary result code SQLITE_FULL.
const sqliteFull = 13

// fullError is a write refused for a full disk, in one line that says
// what to do.
type fullError struct {
	file string
	err  error
}

func (e *fullError) Error() string {
	dir := filepath.Dir(e.file)
	return fmt.Sprintf("The disk is full writing the database %s; nothing was changed: free space there (df -h %s) and try again", e.file, dir)
}

func (e *fullError) Unwrap() []error { return []error{ErrDiskFull, e.err} }

// diskFull turns an SQLITE_FULL error in err's chain into a *fullError.
func (s *Store) diskFull(err error) error {
	var coded interface{ Code() int }
	if err == nil || errors.Is(err, ErrDiskFull) || !errors.As(err, &coded) || coded.Code()&0xff != sqliteFull {
		return err
	}
	return &fullError{file: s.file, err: err}
}
