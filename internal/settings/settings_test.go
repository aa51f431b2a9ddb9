package settings

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthpaas/berth/internal/app"
)

// envOf returns a getenv over m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes text to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// knob is one setting that can come from every layer, with a distinct value
// per layer.
type knob struct {
	name            string
	get             func(Settings) string
	def             func(dataDir string) string
	file, env, flag string
}

func knobs() []knob {
	constant := func(v string) func(string) string { return func(string) string { return v } }
	return []knob{
		{name: "BERTH_HTTP_ADDR", get: func(s Settings) string { return s.HTTPAddr }, def: constant(":80"), file: ":1001", env: ":1002", flag: ":1003"},
		{name: "BERTH_HTTPS_ADDR", get: func(s Settings) string { return s.HTTPSAddr }, def: constant(":443"), file: "127.0.0.1:2001", env: "[::1]:2002", flag: "0.0.0.0:2003"},
		{name: "BERTH_SSH_ADDR", get: func(s Settings) string { return s.SSHAddr }, def: constant(":2222"), file: ":3001", env: ":3002", flag: ":3003"},
		{name: "BERTH_SOCKET", get: func(s Settings) string { return s.Socket }, def: func(d string) string { return filepath.Join(d, "berth.sock") }, file: "/run/file.sock", env: "/run/env.sock", flag: "/run/flag.sock"},
		{name: "BERTH_LOG_LEVEL", get: func(s Settings) string { return s.LogLevel }, def: constant("info"), file: "warn", env: "error", flag: "debug"},
		{name: "BERTH_LOG_FORMAT", get: func(s Settings) string { return s.LogFormat }, def: constant("text"), file: "json", env: "text", flag: "json"},
	}
}

// TestPrecedence checks defaults < config file < environment < flags for
// every setting and every combination of layers.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	const fileL, envL, flagL = 1, 2, 4
	for _, k := range knobs() {
		for layers := 0; layers < 8; layers++ {
			dir := t.TempDir()
			env := map[string]string{"BERTH_DATA_DIR": dir}
			flags := map[string]string{}
			want := k.def(dir)
			if layers&fileL != 0 {
				writeFile(t, dir, "berth.conf", k.name+"="+k.file+"\n")
				want = k.file
			}
			if layers&envL != 0 {
				env[k.name] = k.env
				want = k.env
			}
			if layers&flagL != 0 {
				flags[k.name] = k.flag
				want = k.flag
			}
			s, err := Load(envOf(env), flags)
			if err != nil {
				t.Errorf("%s layers %03b: %v", k.name, layers, err)
				continue
			}
			if got := k.get(s); got != want {
				t.Errorf("%s with file=%v env=%v flag=%v: got %q, want %q",
					k.name, layers&fileL != 0, layers&envL != 0, layers&flagL != 0, got, want)
			}
		}
	}
}

// TestLayersIndependent sets every setting at once, each from a different
// layer, to check that values do not leak between settings.
func TestLayersIndependent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "berth.conf", "BERTH_HTTP_ADDR=:1001\nBERTH_HTTPS_ADDR=:2001\nBERTH_LOG_FORMAT=json\n")
	s, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir, "BERTH_HTTPS_ADDR": ":2002", "BERTH_SSH_ADDR": ":3002"}),
		map[string]string{"BERTH_SSH_ADDR": ":3003", "BERTH_LOG_LEVEL": "debug"})
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		DataDir:     dir,
		ConfigFile:  filepath.Join(dir, "berth.conf"),
		Socket:      filepath.Join(dir, "berth.sock"),
		HTTPAddr:    ":1001",
		HTTPSAddr:   ":2002",
		SSHAddr:     ":3003",
		APIAddr:     "127.0.0.1:2780",
		LogLevel:    "debug",
		LogFormat:   "json",
		SSHSocket:   filepath.Join(dir, "berth-ssh.sock"),
		StorageDir:  filepath.Join(dir, "storage"),
		ProxySocket: filepath.Join(dir, "proxy.sock"),
		SSHGroup:    "berth",
		OpenSSH:     "auto", OpenSSHUsers: "berth,dokku", OpenSSHHome: "/home",
		AccessLog: "false",
		// Dokku's service image defaults: the official images.
		PostgresImage: "postgres", PostgresImageVersion: "17", RedisImage: "redis", RedisImageVersion: "7",
		NetworkPool: DefaultNetworkPool,
		CronTick:    "30s", NotifyRetryDelay: "2s", PeerTimeout: "2s", PeerResync: "3s",
		SwarmHeartbeat:  "5s",
		MetricsInterval: "10s", StatsInterval: "10s",
	}
	if s.reload = nil; s != want {
		t.Errorf("Load =\n%+v\nwant\n%+v", s, want)
	}
}

func TestEmptyEnvIsUnset(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "berth.conf", "BERTH_HTTP_ADDR=:1001\n")
	s, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir, "BERTH_HTTP_ADDR": "", "BERTH_SSH_ADDR": ""}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.HTTPAddr != ":1001" || s.SSHAddr != ":2222" {
		t.Errorf("empty environment variables overrode: HTTPAddr %q, SSHAddr %q", s.HTTPAddr, s.SSHAddr)
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Parallel()
	// BERTH_CONFIG points at a missing file so that no berth.conf on this
	// machine is read.
	missing := filepath.Join(t.TempDir(), "none.conf")
	s, err := Load(envOf(map[string]string{"BERTH_CONFIG": missing}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		DataDir:     "/var/lib/berth",
		ConfigFile:  missing,
		Socket:      "/var/lib/berth/berth.sock",
		HTTPAddr:    ":80",
		HTTPSAddr:   ":443",
		SSHAddr:     ":2222",
		APIAddr:     "127.0.0.1:2780",
		LogLevel:    "info",
		LogFormat:   "text",
		SSHSocket:   "/var/lib/berth/berth-ssh.sock",
		StorageDir:  "/var/lib/berth/storage",
		ProxySocket: "/var/lib/berth/proxy.sock",
		SSHGroup:    "berth",
		OpenSSH:     "auto", OpenSSHUsers: "berth,dokku", OpenSSHHome: "/home",
		AccessLog: "false",
		// Dokku's service image defaults: the official images.
		PostgresImage: "postgres", PostgresImageVersion: "17", RedisImage: "redis", RedisImageVersion: "7",
		NetworkPool: DefaultNetworkPool,
		CronTick:    "30s", NotifyRetryDelay: "2s", PeerTimeout: "2s", PeerResync: "3s",
		SwarmHeartbeat:  "5s",
		MetricsInterval: "10s", StatsInterval: "10s",
	}
	if s.reload = nil; s != want {
		t.Errorf("Load =\n%+v\nwant\n%+v", s, want)
	}
	if DefaultDataDir != want.DataDir {
		t.Errorf("DefaultDataDir = %q", DefaultDataDir)
	}
}

func TestDataDir(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	abs := t.TempDir()
	tests := []struct {
		name  string
		env   string
		flag  string
		want  string
		noCfg bool // the computed config file must not exist
	}{
		{name: "absolute env", env: abs, want: abs},
		{name: "relative env", env: "rel/data", want: filepath.Join(wd, "rel", "data"), noCfg: true},
		{name: "dot", env: ".", want: wd},
		{name: "unclean relative", env: "./x/../y/", want: filepath.Join(wd, "y"), noCfg: true},
		{name: "unclean absolute", env: abs + "/./sub/..", want: abs},
		{name: "trailing slash", env: abs + "/", want: abs},
		{name: "flag beats env", env: "/nonexistent/env", flag: abs, want: abs},
		{name: "relative flag", env: abs, flag: "flagdir", want: filepath.Join(wd, "flagdir"), noCfg: true},
	}
	for _, tt := range tests {
		flags := map[string]string{}
		if tt.flag != "" {
			flags["BERTH_DATA_DIR"] = tt.flag
		}
		s, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": tt.env}), flags)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if s.DataDir != tt.want {
			t.Errorf("%s: DataDir = %q, want %q", tt.name, s.DataDir, tt.want)
		}
		if !filepath.IsAbs(s.DataDir) || !filepath.IsAbs(s.Socket) || !filepath.IsAbs(s.ConfigFile) {
			t.Errorf("%s: relative paths in %+v", tt.name, s)
		}
		if want := filepath.Join(tt.want, "berth.sock"); s.Socket != want {
			t.Errorf("%s: Socket = %q, want %q", tt.name, s.Socket, want)
		}
		if want := filepath.Join(tt.want, "berth.conf"); s.ConfigFile != want {
			t.Errorf("%s: ConfigFile = %q, want %q", tt.name, s.ConfigFile, want)
		}
		if tt.noCfg {
			if _, err := os.Stat(s.ConfigFile); err == nil {
				t.Fatalf("%s: %s exists; the test expects it missing", tt.name, s.ConfigFile)
			}
		}
	}
}

func TestConfigFileLocation(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	other := t.TempDir()
	writeFile(t, dataDir, "berth.conf", "BERTH_HTTP_ADDR=:1\n")
	envFile := writeFile(t, other, "env.conf", "BERTH_HTTP_ADDR=:2\n")
	flagFile := writeFile(t, other, "flag.conf", "BERTH_HTTP_ADDR=:3\n")
	tests := []struct {
		name        string
		env, flags  map[string]string
		file, haddr string
	}{
		{"default in data dir", map[string]string{"BERTH_DATA_DIR": dataDir}, nil, filepath.Join(dataDir, "berth.conf"), ":1"},
		{"env", map[string]string{"BERTH_DATA_DIR": dataDir, "BERTH_CONFIG": envFile}, nil, envFile, ":2"},
		{"flag beats env", map[string]string{"BERTH_DATA_DIR": dataDir, "BERTH_CONFIG": envFile}, map[string]string{"BERTH_CONFIG": flagFile}, flagFile, ":3"},
		{"data dir from flag", map[string]string{"BERTH_DATA_DIR": other}, map[string]string{"BERTH_DATA_DIR": dataDir}, filepath.Join(dataDir, "berth.conf"), ":1"},
		{"missing file is fine", map[string]string{"BERTH_DATA_DIR": other}, nil, filepath.Join(other, "berth.conf"), ":80"},
	}
	for _, tt := range tests {
		s, err := Load(envOf(tt.env), tt.flags)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if s.ConfigFile != tt.file || s.HTTPAddr != tt.haddr {
			t.Errorf("%s: ConfigFile %q, HTTPAddr %q; want %q, %q", tt.name, s.ConfigFile, s.HTTPAddr, tt.file, tt.haddr)
		}
	}
}

func TestConfigFileSyntax(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "berth.conf", "\uFEFF# settings\r\nexport BERTH_HTTP_ADDR=\":8080\" # quoted\r\n\r\nBERTH_SSH_ADDR=':22' \r\nBERTH_LOG_LEVEL=warn # comment\r\n")
	s, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.HTTPAddr != ":8080" || s.SSHAddr != ":22" || s.LogLevel != "warn" {
		t.Errorf("Load = %+v", s)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string // config file text; "" for none
		env   map[string]string
		flags map[string]string
		want  []string // substrings of the error
	}{
		{name: "unknown key", file: "BERTH_HTTP_ADR=:80\n", want: []string{"BERTH_HTTP_ADR", "berth.conf", "unknown setting"}},
		{name: "two unknown keys", file: "ZZZ=1\nBERTH_HTTP_ADDR=:1\nAAA=2\n", want: []string{"AAA, ZZZ"}},
		{name: "lower-case key", file: "berth_http_addr=:80\n", want: []string{"berth_http_addr"}},
		{name: "data dir in file", file: "BERTH_DATA_DIR=/elsewhere\n", want: []string{"BERTH_DATA_DIR", "environment or flags"}},
		{name: "config in file", file: "BERTH_CONFIG=/elsewhere.conf\n", want: []string{"BERTH_CONFIG"}},
		{name: "malformed file", file: "BERTH_HTTP_ADDR=:80\nBERTH_SSH_ADDR\n", want: []string{"berth.conf", "line 2"}},
		{name: "bad quote in file", file: "BERTH_HTTP_ADDR=':80\n", want: []string{"berth.conf", "line 1", "unterminated"}},
		{name: "bad level env", env: map[string]string{"BERTH_LOG_LEVEL": "verbose"}, want: []string{"BERTH_LOG_LEVEL", `"verbose"`}},
		{name: "bad level case", env: map[string]string{"BERTH_LOG_LEVEL": "INFO"}, want: []string{"BERTH_LOG_LEVEL", `"INFO"`}},
		{name: "bad level file", file: "BERTH_LOG_LEVEL=trace\n", want: []string{"BERTH_LOG_LEVEL", `"trace"`}},
		{name: "bad level flag", flags: map[string]string{"BERTH_LOG_LEVEL": "warning"}, want: []string{"BERTH_LOG_LEVEL", `"warning"`}},
		{name: "bad level explicitly empty in file", file: "BERTH_LOG_LEVEL=\n", want: []string{"BERTH_LOG_LEVEL"}},
		{name: "bad format env", env: map[string]string{"BERTH_LOG_FORMAT": "yaml"}, want: []string{"BERTH_LOG_FORMAT", `"yaml"`}},
		{name: "bad format file", file: "BERTH_LOG_FORMAT=logfmt\n", want: []string{"BERTH_LOG_FORMAT", `"logfmt"`}},
		{name: "bad format flag", flags: map[string]string{"BERTH_LOG_FORMAT": "JSON"}, want: []string{"BERTH_LOG_FORMAT", `"JSON"`}},
		{name: "pool not a range", file: "BERTH_NETWORK_POOL=10.210.0.0\n", want: []string{"BERTH_NETWORK_POOL", `"10.210.0.0"`, "IPv4 range"}},
		{name: "pool IPv6", env: map[string]string{"BERTH_NETWORK_POOL": "fd00::/64"}, want: []string{"BERTH_NETWORK_POOL", "IPv4"}},
		{name: "pool host bits", env: map[string]string{"BERTH_NETWORK_POOL": "10.210.1.0/16"}, want: []string{"BERTH_NETWORK_POOL", "10.210.0.0/16?"}},
		{name: "pool too small", flags: map[string]string{"BERTH_NETWORK_POOL": "10.210.0.0/25"}, want: []string{"BERTH_NETWORK_POOL", "/24"}},
		{name: "pool too large", env: map[string]string{"BERTH_NETWORK_POOL": "0.0.0.0/0"}, want: []string{"BERTH_NETWORK_POOL", "/8"}},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if tt.file != "" {
			writeFile(t, dir, "berth.conf", tt.file)
		}
		env := map[string]string{"BERTH_DATA_DIR": dir}
		for k, v := range tt.env {
			env[k] = v
		}
		_, err := Load(envOf(env), tt.flags)
		if err == nil {
			t.Errorf("%s: Load succeeded, want an error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tt.name, err, w)
			}
		}
	}
}

func TestUnreadableConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A directory where the file should be cannot be read.
	if err := os.Mkdir(filepath.Join(dir, "berth.conf"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir}), nil)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "berth.conf")) {
		t.Errorf("Load with a directory as config file = %v, want an error naming it", err)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	names := Names()
	for _, want := range []string{"BERTH_DATA_DIR", "BERTH_CONFIG", "BERTH_SOCKET", "BERTH_HTTP_ADDR", "BERTH_HTTPS_ADDR", "BERTH_SSH_ADDR", "BERTH_LOG_LEVEL", "BERTH_LOG_FORMAT"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() = %v, missing %s", names, want)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("Names() lists %s twice", n)
		}
		seen[n] = true
		dokku := strings.HasPrefix(n, "POSTGRES_IMAGE") || strings.HasPrefix(n, "REDIS_IMAGE") // Dokku's own names
		if err := app.ValidateKey(n); err != nil || (!strings.HasPrefix(n, "BERTH_") && !dokku) {
			t.Errorf("setting name %q is not a BERTH_ environment variable name", n)
		}
	}
	// Every setting Names lists besides the two that locate things can be
	// set in a config file.
	for _, n := range names {
		if n == "BERTH_DATA_DIR" || n == "BERTH_CONFIG" {
			continue
		}
		dir := t.TempDir()
		writeFile(t, dir, "berth.conf", n+"=info\n")
		_, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir}), nil)
		if err != nil && strings.Contains(err.Error(), "unknown setting") {
			t.Errorf("%s is refused in the config file: %v", n, err)
		}
	}
}

func TestDefaultFile(t *testing.T) {
	t.Parallel()
	text := DefaultFile()
	vars, err := app.ParseEnvfile([]byte(text))
	if err != nil {
		t.Fatalf("DefaultFile does not parse: %v\n%s", err, text)
	}
	if len(vars) != 0 {
		t.Errorf("DefaultFile sets %v; every line should be commented out", vars)
	}
	for _, n := range Names() {
		if !strings.Contains(text, n) {
			t.Errorf("DefaultFile does not mention %s", n)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			t.Errorf("uncommented line %q", line)
		}
	}

	// Uncommenting every NAME=default line changes nothing: the defaults
	// written are the real defaults.
	dir := t.TempDir()
	var uncommented []string
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#BERTH_") || strings.HasPrefix(line, "#POSTGRES_") || strings.HasPrefix(line, "#REDIS_") {
			line = line[1:]
			n++
		}
		uncommented = append(uncommented, line)
	}
	if want := len(Names()) - 2; n != want {
		t.Errorf("DefaultFile has %d commented NAME=value lines, want %d (every setting but BERTH_DATA_DIR and BERTH_CONFIG)", n, want)
	}
	writeFile(t, dir, "berth.conf", strings.Join(uncommented, "\n"))
	withDefaults, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir}), nil)
	if err != nil {
		t.Fatalf("DefaultFile with its lines uncommented: %v", err)
	}
	noFile, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir, "BERTH_CONFIG": filepath.Join(dir, "missing.conf")}), nil)
	if err != nil {
		t.Fatal(err)
	}
	noFile.ConfigFile = withDefaults.ConfigFile
	withDefaults.reload, noFile.reload = nil, nil
	if withDefaults != noFile {
		t.Errorf("defaults from DefaultFile:\n%+v\nbuilt-in defaults:\n%+v", withDefaults, noFile)
	}
}

func TestOpenSSHMode(t *testing.T) {
	dir := t.TempDir()
	env := func(v string) func(string) string {
		return func(k string) string {
			switch k {
			case "BERTH_DATA_DIR":
				return dir
			case "BERTH_OPENSSH":
				return v
			}
			return ""
		}
	}
	if s, err := Load(env("off"), nil); err != nil || s.OpenSSH != "off" {
		t.Errorf("off: %v %q", err, s.OpenSSH)
	}
	if _, err := Load(env("yes"), nil); err == nil || !strings.Contains(err.Error(), "BERTH_OPENSSH") {
		t.Errorf("yes: %v", err)
	}
}

// TestReload: Reload reads the config file as it is now, with the same
// environment and flags as Load.
func TestReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "berth.conf")
	os.WriteFile(conf, []byte("BERTH_AUTHORIZED_KEYS=/a\n"), 0o600)
	s, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir}), map[string]string{"BERTH_SSH_GROUP": "flagged"})
	if err != nil || s.AuthorizedKeys != "/a" {
		t.Fatalf("Load: %v %q", err, s.AuthorizedKeys)
	}
	os.WriteFile(conf, []byte("BERTH_AUTHORIZED_KEYS=/b\nBERTH_SSH_GROUP=fromfile\n"), 0o600)
	r, err := s.Reload()
	if err != nil || r.AuthorizedKeys != "/b" || r.SSHGroup != "flagged" || r.DataDir != dir {
		t.Errorf("Reload: %v %q %q %q", err, r.AuthorizedKeys, r.SSHGroup, r.DataDir)
	}
	if r, err := (Settings{AuthorizedKeys: "/x"}).Reload(); err != nil || r.AuthorizedKeys != "/x" {
		t.Errorf("Reload of settings not loaded: %v %q", err, r.AuthorizedKeys)
	}
}

// TestNetworkPool: the default pool, one set in the file, and the parsed
// prefix (zero for settings Load did not check).
func TestNetworkPool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Load(envOf(map[string]string{"BERTH_DATA_DIR": dir}), nil)
	if err != nil || s.NetworkPoolPrefix() != netip.MustParsePrefix("10.210.0.0/16") {
		t.Fatalf("default pool = %q (%v), %v", s.NetworkPool, s.NetworkPoolPrefix(), err)
	}
	writeFile(t, dir, "berth.conf", "BERTH_NETWORK_POOL=10.99.0.0/20\n")
	s, err = Load(envOf(map[string]string{"BERTH_DATA_DIR": dir}), nil)
	if err != nil || s.NetworkPoolPrefix() != netip.MustParsePrefix("10.99.0.0/20") {
		t.Fatalf("pool from the file = %q (%v), %v", s.NetworkPool, s.NetworkPoolPrefix(), err)
	}
	if p := (Settings{NetworkPool: "nonsense"}).NetworkPoolPrefix(); p.IsValid() {
		t.Errorf("unchecked bad pool parsed as %v", p)
	}
}

func TestSwarmHeartbeat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for v, want := range map[string]time.Duration{"1s": time.Second, "": 5 * time.Second, "0.5s": 0, "2m": 0, "soon": 0} {
		env := map[string]string{"BERTH_DATA_DIR": dir, "BERTH_SWARM_HEARTBEAT": v}
		s, err := Load(func(k string) string { return env[k] }, nil)
		if want == 0 {
			if err == nil || !strings.Contains(err.Error(), "BERTH_SWARM_HEARTBEAT") {
				t.Errorf("%q: err = %v, want BERTH_SWARM_HEARTBEAT refused", v, err)
			}
			continue
		}
		if err != nil || s.SwarmHeartbeatDuration() != want {
			t.Errorf("%q: %v %v, want %v", v, s.SwarmHeartbeatDuration(), err, want)
		}
	}
}
