package docker

import (
	"errors"
	"strings"
	"testing"
)

func TestReadImageFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// CMD [] leaves the image without a command: it is read all the same.
	ref := "berth-test/files-" + f.id + ":1"
	f.build("FROM "+testImage+"\n"+
		"RUN mkdir -p /code /app /code/dir && printf 'web: serve\\n' > /code/Procfile && printf 'WAIT=1\\n' > /app/CHECKS"+
		" && ln -s /code/Procfile /app/Procfile && ln -s ../app/CHECKS /code/CHECKS && ln -s /nowhere /code/dangling\n"+
		"WORKDIR /code\nCMD []\n", BuildOptions{Tags: []string{ref}, Labels: f.labels()})
	got, err := f.c.ReadImageFiles(f.ctx, ref, []string{"/code/Procfile", "/app/Procfile", "/code/CHECKS", "/code/app.json", "/code/dir", "/code/dangling", "/dev/null"}, f.labels())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/code/Procfile": "web: serve\n", "/app/Procfile": "web: serve\n", "/code/CHECKS": "WAIT=1\n"}
	if len(got) != len(want) {
		t.Errorf("got %d files, want %d: %q", len(got), len(want), got)
	}
	for p, w := range want {
		if string(got[p]) != w {
			t.Errorf("%s = %q, want %q", p, got[p], w)
		}
	}
	// The container it used is gone.
	cs, err := f.c.ListContainers(f.ctx, f.labels(), true)
	if err != nil || len(cs) != 0 {
		t.Errorf("containers left: %v, %v", cs, err)
	}
	// A missing image is ErrNotFound.
	if _, err := f.c.ReadImageFiles(f.ctx, "berth-test/missing-"+f.id+":1", []string{"/Procfile"}, f.labels()); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing image: %v, want ErrNotFound", err)
	}
	// A file too large to be a Procfile is refused in one line.
	big := "berth-test/files-big-" + f.id + ":1"
	f.build("FROM "+testImage+"\nRUN dd if=/dev/zero of=/big bs=1024 count=1100 2>/dev/null\n", BuildOptions{Tags: []string{big}, Labels: f.labels()})
	if _, err := f.c.ReadImageFiles(f.ctx, big, []string{"/big"}, f.labels()); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("big file: %v", err)
	} else {
		checkOneLine(t, err)
	}
}
