package release

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/berthpaas/berth/internal/app"
	"github.com/berthpaas/berth/internal/appfile"
	"github.com/berthpaas/berth/internal/store"
)

func mustProcfile(t *testing.T, text string) *appfile.Procfile {
	t.Helper()
	p, err := appfile.ParseProcfile([]byte(text))
	if err != nil {
		t.Fatalf("ParseProcfile(%q): %v", text, err)
	}
	return &p
}

func mustAppJSON(t *testing.T, text string) *appfile.AppJSON {
	t.Helper()
	a, err := appfile.ParseAppJSON([]byte(text))
	if err != nil {
		t.Fatalf("ParseAppJSON(%q): %v", text, err)
	}
	return &a
}

func mustScale(t *testing.T, text string) map[string]int {
	t.Helper()
	s, err := appfile.ParseScale([]byte(text))
	if err != nil {
		t.Fatalf("ParseScale(%q): %v", text, err)
	}
	return s
}

// wantInvalid checks that err is a validation error (app.ErrInvalid, which
// the daemon's mapper turns into code invalid) whose message contains every
// part of want.
func wantInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !errors.Is(err, app.ErrInvalid) {
		t.Errorf("error %v (%T) is not a validation error", err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q has more than one line", err)
	}
}

func TestMakePlan(t *testing.T) {
	const threeTypes = "web: ./web --port $PORT\nworker: ./work\nclock: ./clock\nrelease: ./migrate\n"
	tests := []struct {
		name      string
		procfile  string // "" for no Procfile
		appJSON   string // "" for no app.json
		scale     string // "" for no DOKKU_SCALE
		stored    map[string]int
		exposed   []int
		processes map[string]string
		formation map[string]int
		locked    []string
		webPort   int
		order     []string
	}{
		{
			name:      "no Procfile runs the image CMD as web",
			processes: map[string]string{"web": ""},
			formation: map[string]int{"web": 1},
			webPort:   5000,
			order:     []string{"web"},
		},
		{
			name:      "no Procfile with app.json without formation",
			appJSON:   `{"scripts": {"dokku": {"predeploy": "true"}}}`,
			processes: map[string]string{"web": ""},
			formation: map[string]int{"web": 1},
			webPort:   5000,
			order:     []string{"web"},
		},
		{
			name:      "no Procfile, stored web scale kept",
			stored:    map[string]int{"web": 3},
			processes: map[string]string{"web": ""},
			formation: map[string]int{"web": 3},
			webPort:   5000,
			order:     []string{"web"},
		},
		{
			name:      "no Procfile, DOKKU_SCALE sets web",
			scale:     "web=2\n",
			processes: map[string]string{"web": ""},
			formation: map[string]int{"web": 2},
			webPort:   5000,
			order:     []string{"web"},
		},
		{
			name:      "Procfile types: web 1, others 0, release never a process",
			procfile:  threeTypes,
			processes: map[string]string{"web": "./web --port $PORT", "worker": "./work", "clock": "./clock"},
			formation: map[string]int{"web": 1, "worker": 0, "clock": 0},
			webPort:   5000,
			order:     []string{"web", "clock", "worker"},
		},
		{
			name:      "Procfile without web: nothing runs by default",
			procfile:  "worker: ./work\n",
			processes: map[string]string{"worker": "./work"},
			formation: map[string]int{"worker": 0},
			webPort:   5000,
			order:     []string{"worker"},
		},
		{
			name:      "stored formation used; stored web 0 stays 0; dropped types gone",
			procfile:  threeTypes,
			stored:    map[string]int{"web": 0, "worker": 4, "old": 2, "release": 1},
			processes: map[string]string{"web": "./web --port $PORT", "worker": "./work", "clock": "./clock"},
			formation: map[string]int{"web": 0, "worker": 4, "clock": 0},
			webPort:   5000,
			order:     []string{"web", "clock", "worker"},
		},
		{
			name:      "DOKKU_SCALE beats stored formation",
			procfile:  threeTypes,
			scale:     "worker=2\nclock=1\n",
			stored:    map[string]int{"web": 3, "worker": 5},
			processes: map[string]string{"web": "./web --port $PORT", "worker": "./work", "clock": "./clock"},
			formation: map[string]int{"web": 3, "worker": 2, "clock": 1},
			webPort:   5000,
			order:     []string{"web", "clock", "worker"},
		},
		{
			name:      "app.json formation beats DOKKU_SCALE and stored, and locks",
			procfile:  threeTypes,
			appJSON:   `{"formation": {"worker": {"quantity": 7}, "web": {"quantity": 0}, "clock": {"size": "free"}}}`,
			scale:     "worker=2\nweb=2\n",
			stored:    map[string]int{"web": 3, "worker": 5, "clock": 2},
			processes: map[string]string{"web": "./web --port $PORT", "worker": "./work", "clock": "./clock"},
			formation: map[string]int{"web": 0, "worker": 7, "clock": 2},
			locked:    []string{"web", "worker"},
			webPort:   5000,
			order:     []string{"web", "clock", "worker"},
		},
		{
			name:      "first exposed port is the web port",
			procfile:  "web: ./web\n",
			exposed:   []int{8080, 3000},
			processes: map[string]string{"web": "./web"},
			formation: map[string]int{"web": 1},
			webPort:   8080,
			order:     []string{"web"},
		},
		{
			name:      "order: web first, then by name",
			procfile:  "zeta: z\nalpha: a\nweb: w\nmid-1: m\nmid: m\n",
			processes: map[string]string{"zeta": "z", "alpha": "a", "web": "w", "mid-1": "m", "mid": "m"},
			formation: map[string]int{"zeta": 0, "alpha": 0, "web": 1, "mid-1": 0, "mid": 0},
			webPort:   5000,
			order:     []string{"web", "alpha", "mid", "mid-1", "zeta"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pf *appfile.Procfile
			if tc.procfile != "" {
				pf = mustProcfile(t, tc.procfile)
			}
			var aj *appfile.AppJSON
			if tc.appJSON != "" {
				aj = mustAppJSON(t, tc.appJSON)
			}
			var scale map[string]int
			if tc.scale != "" {
				scale = mustScale(t, tc.scale)
			}
			p, err := MakePlan(pf, aj, scale, tc.stored, tc.exposed)
			if err != nil {
				t.Fatalf("MakePlan: %v", err)
			}
			if !maps.Equal(p.Processes, tc.processes) {
				t.Errorf("processes = %v, want %v", p.Processes, tc.processes)
			}
			if !maps.Equal(p.Formation, tc.formation) {
				t.Errorf("formation = %v, want %v", p.Formation, tc.formation)
			}
			if !slices.Equal(p.LockedTypes, tc.locked) {
				t.Errorf("lockedTypes = %v, want %v", p.LockedTypes, tc.locked)
			}
			if p.WebPort != tc.webPort {
				t.Errorf("webPort = %d, want %d", p.WebPort, tc.webPort)
			}
			if got := p.Order(); !slices.Equal(got, tc.order) {
				t.Errorf("Order() = %v, want %v", got, tc.order)
			}
			if _, ok := p.Processes["release"]; ok {
				t.Errorf("release became a process: %v", p.Processes)
			}
		})
	}
}

func TestMakePlanErrors(t *testing.T) {
	tests := []struct {
		name     string
		procfile string
		appJSON  string
		scale    string
		want     []string
	}{
		{
			name:     "DOKKU_SCALE names a type not in the Procfile",
			procfile: "web: ./web\n",
			scale:    "web=1\nworker=2\n",
			want:     []string{"DOKKU_SCALE", "worker", "Procfile"},
		},
		{
			name:  "DOKKU_SCALE names a type without a Procfile",
			scale: "worker=1\n",
			want:  []string{"DOKKU_SCALE", "worker"},
		},
		{
			name:     "DOKKU_SCALE cannot scale release",
			procfile: "web: ./web\nrelease: ./migrate\n",
			scale:    "release=1\n",
			want:     []string{"DOKKU_SCALE", "release"},
		},
		{
			name:     "app.json formation names a type not in the Procfile",
			procfile: "web: ./web\n",
			appJSON:  `{"formation": {"worker": {"quantity": 1}}}`,
			want:     []string{"app.json", "worker", "Procfile"},
		},
		{
			name:    "app.json formation names a type without a Procfile",
			appJSON: `{"formation": {"worker": {"quantity": 1}}}`,
			want:    []string{"app.json", "worker"},
		},
		{
			name:     "Procfile with only release",
			procfile: "release: ./migrate\n",
			want:     []string{"Procfile", "release"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pf *appfile.Procfile
			if tc.procfile != "" {
				pf = mustProcfile(t, tc.procfile)
			}
			var aj *appfile.AppJSON
			if tc.appJSON != "" {
				aj = mustAppJSON(t, tc.appJSON)
			}
			var scale map[string]int
			if tc.scale != "" {
				scale = mustScale(t, tc.scale)
			}
			_, err := MakePlan(pf, aj, scale, nil, nil)
			wantInvalid(t, err, tc.want...)
		})
	}
}

// A formation entry without a quantity neither sets nor locks anything, even
// for a type the Procfile lacks.
func TestMakePlanFormationWithoutQuantity(t *testing.T) {
	p, err := MakePlan(mustProcfile(t, "web: w\n"), mustAppJSON(t, `{"formation": {"web": {}, "other": {"size": "x"}}}`), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Formation["web"] != 1 || len(p.LockedTypes) != 0 {
		t.Errorf("formation %v, locked %v; want web=1 and nothing locked", p.Formation, p.LockedTypes)
	}
}

func TestApplyScale(t *testing.T) {
	procs := map[string]string{"web": "./web", "worker": "./work"}
	tests := []struct {
		name      string
		formation map[string]int
		processes map[string]string
		locked    []string
		changes   map[string]int
		want      map[string]int
		err       []string // parts of the error message, nil for success
	}{
		{
			name:      "scale known types",
			formation: map[string]int{"web": 1, "worker": 0},
			processes: procs,
			changes:   map[string]int{"worker": 3, "web": 0},
			want:      map[string]int{"web": 0, "worker": 3},
		},
		{
			name:      "untouched types kept",
			formation: map[string]int{"web": 2, "worker": 1},
			processes: procs,
			changes:   map[string]int{"worker": 5},
			want:      map[string]int{"web": 2, "worker": 5},
		},
		{
			name:      "unknown type refused with Dokku's message",
			formation: map[string]int{"web": 1},
			processes: procs,
			changes:   map[string]int{"clock": 1},
			err:       []string{"clock is not a valid process name to scale up"},
		},
		{
			name:      "release is not a process",
			formation: map[string]int{"web": 1},
			processes: procs,
			changes:   map[string]int{"release": 1},
			err:       []string{"release is not a valid process name to scale up"},
		},
		{
			name:      "locked type refused",
			formation: map[string]int{"web": 1, "worker": 2},
			processes: procs,
			locked:    []string{"worker"},
			changes:   map[string]int{"worker": 3},
			err:       []string{"worker", "app.json"},
		},
		{
			name:      "unlocked type scales while another is locked",
			formation: map[string]int{"web": 1, "worker": 2},
			processes: procs,
			locked:    []string{"worker"},
			changes:   map[string]int{"web": 3},
			want:      map[string]int{"web": 3, "worker": 2},
		},
		{
			name:      "negative refused",
			formation: map[string]int{"web": 1},
			processes: procs,
			changes:   map[string]int{"web": -1},
			err:       []string{"Invalid count for process type web"},
		},
		{
			name:      "not deployed: any type accepted",
			formation: nil,
			processes: nil,
			changes:   map[string]int{"anything": 2, "web": 0},
			want:      map[string]int{"anything": 2, "web": 0},
		},
		{
			name:      "not deployed: negative still refused",
			processes: nil,
			changes:   map[string]int{"worker": -3},
			err:       []string{"Invalid count for process type worker"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := maps.Clone(tc.formation)
			got, err := ApplyScale(tc.formation, tc.processes, tc.locked, tc.changes)
			if !maps.Equal(tc.formation, before) {
				t.Errorf("ApplyScale changed its input formation: %v, was %v", tc.formation, before)
			}
			if tc.err != nil {
				wantInvalid(t, err, tc.err...)
				if got != nil {
					t.Errorf("result %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyScale: %v", err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("ApplyScale = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDescribeFormation(t *testing.T) {
	p := Plan{Processes: map[string]string{"worker": "", "web": "", "a": ""}, Formation: map[string]int{"web": 2, "worker": 0, "a": 1}}
	if got, want := DescribeFormation(p.Order(), p.Formation), "web=2 a=1 worker=0"; got != want {
		t.Errorf("DescribeFormation = %q, want %q", got, want)
	}
	if got := DescribeFormation(nil, nil); got != "" {
		t.Errorf("DescribeFormation(nil) = %q, want empty", got)
	}
}

// A DOKKU_SCALE quantity that differs from the stored one (an earlier
// ps:scale) is applied and said; an equal one, or a first deploy, says
// nothing.
func TestMakePlanScaleOverrideNotes(t *testing.T) {
	pf := mustProcfile(t, "web: w\nworker: k\n")
	p, err := MakePlan(pf, nil, map[string]int{"worker": 2, "web": 1}, map[string]int{"web": 1, "worker": 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"DOKKU_SCALE sets worker=2, overriding the current worker=0 (as set by ps:scale): DOKKU_SCALE applies at every deploy"}
	if p.Formation["worker"] != 2 || !slices.Equal(p.Notes, want) {
		t.Errorf("formation %v notes %q", p.Formation, p.Notes)
	}
	for _, stored := range []map[string]int{nil, {"web": 1, "worker": 2}} {
		p, err := MakePlan(pf, nil, map[string]int{"worker": 2}, stored, nil)
		if err != nil || len(p.Notes) != 0 {
			t.Errorf("stored %v: notes %q, %v", stored, p.Notes, err)
		}
	}
}

// A rollback runs the release's own processes and port; types both run
// keep the current quantity, types only it runs get its own.
func TestRollbackPlan(t *testing.T) {
	current := Plan{Processes: map[string]string{"web": "/bin/web2", "clock": "/bin/clock"}, Formation: map[string]int{"web": 3, "clock": 1}, WebPort: 8080}
	of := store.Release{Processes: map[string]string{"web": "/bin/web", "worker": "/bin/work"}, WebPort: 5000, Formation: map[string]int{"web": 1, "worker": 2}}
	p := RollbackPlan(current, of)
	if p.WebPort != 5000 || p.Processes["web"] != "/bin/web" || len(p.Processes) != 2 {
		t.Errorf("processes %v port %d", p.Processes, p.WebPort)
	}
	if len(p.Formation) != 2 || p.Formation["web"] != 3 || p.Formation["worker"] != 2 {
		t.Errorf("formation = %v, want web=3 (current) worker=2 (the release's), no clock", p.Formation)
	}
}

// Without a Procfile, types ps:scale started run the image's CMD and stay;
// with one, ps:scale may only scale its types.
func TestImageOnlyTypes(t *testing.T) {
	p, err := MakePlan(nil, nil, nil, map[string]int{"web": 1, "worker": 2, "gone": 0}, nil)
	if err != nil || len(p.Processes) != 2 || p.Processes["worker"] != "" || p.Formation["worker"] != 2 {
		t.Fatalf("plan = %+v, %v", p, err)
	}
	if !ImageOnly(p.Processes) || ImageOnly(map[string]string{"web": "x"}) || ImageOnly(nil) {
		t.Error("ImageOnly")
	}
	if _, err := ApplyScale(p.Formation, p.Processes, nil, map[string]int{"clock": 1}); err != nil {
		t.Errorf("image-only release refused a new type: %v", err)
	}
	for _, typ := range []string{"release", "bad type"} {
		if _, err := ApplyScale(p.Formation, p.Processes, nil, map[string]int{typ: 1}); err == nil {
			t.Errorf("scaled %q", typ)
		}
	}
	if _, err := ApplyScale(map[string]int{"web": 1}, map[string]string{"web": "run"}, nil, map[string]int{"worker": 1}); err == nil {
		t.Error("a Procfile release took a type it does not have")
	}
}
