package daemon

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fullConfig sets every key.
const fullConfig = `# ringwired.toml
socket = "${RWTEST_RUNTIME}/ringwire/ringwired.sock"
transport = "both"
log_level = "debug"
metrics = "127.0.0.1:9464"
workspace = "~/src/project"

[provider]
name = "openai"
mock_token_delay = "20ms"

[provider.openai]
base_url = "http://127.0.0.1:11434/v1"
model = "qwen2.5-coder"
api_key_env = "MY_KEY"
idle_timeout = "90s"

[tools]
allow_commands = ["go", "git"]
debug_tools = true

[limits]
max_conns = 64
max_ring_size = 262144
max_payload = 1048576
max_inflight = 32
drain_timeout = "3s"

[compression]
shm = -1
socket = 4096
`

func TestParseConfigFileFull(t *testing.T) {
	t.Setenv("RWTEST_RUNTIME", "/run/user/1000")
	t.Setenv("HOME", "/home/u")
	cf, err := ParseConfigFile("ringwired.toml", []byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := []ConfigSetting{
		{"socket", "socket", "/run/user/1000/ringwire/ringwired.sock", 2},
		{"transport", "transport", "both", 3},
		{"log_level", "log-level", "debug", 4},
		{"metrics", "metrics", "127.0.0.1:9464", 5},
		{"workspace", "workspace", "/home/u/src/project", 6},
		{"provider.name", "provider", "openai", 9},
		{"provider.mock_token_delay", "mock-token-delay", "20ms", 10},
		{"provider.openai.base_url", "openai-base-url", "http://127.0.0.1:11434/v1", 13},
		{"provider.openai.model", "openai-model", "qwen2.5-coder", 14},
		{"provider.openai.api_key_env", "openai-api-key-env", "MY_KEY", 15},
		{"provider.openai.idle_timeout", "openai-idle-timeout", "90s", 16},
		{"tools.allow_commands", "allow-command", "go", 19},
		{"tools.allow_commands", "allow-command", "git", 19},
		{"tools.debug_tools", "debug-tools", "true", 20},
		{"limits.max_conns", "max-conns", "64", 23},
		{"limits.max_ring_size", "max-ring-size", "262144", 24},
		{"limits.max_payload", "max-payload", "1048576", 25},
		{"limits.max_inflight", "max-inflight", "32", 26},
		{"limits.drain_timeout", "drain-timeout", "3s", 27},
		{"compression.shm", "compress-shm", "-1", 30},
		{"compression.socket", "compress-socket", "4096", 31},
	}
	if !slices.Equal(cf.Settings, want) {
		t.Errorf("settings:\n got %v\nwant %v", cf.Settings, want)
	}
}

// TestParseConfigFileForms: dotted keys, inline tables and an empty file.
func TestParseConfigFileForms(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want []ConfigSetting
	}{
		{"", nil},
		{"# only a comment\n\n", nil},
		{"provider.name = 'mock'\nlimits.max_conns = 5\n", []ConfigSetting{
			{"provider.name", "provider", "mock", 1}, {"limits.max_conns", "max-conns", "5", 2}}},
		{"\nlimits = { max_inflight = 7, drain_timeout = \"1s\" }\n", []ConfigSetting{
			{"limits.max_inflight", "max-inflight", "7", 2}, {"limits.drain_timeout", "drain-timeout", "1s", 2}}},
		{"[provider]\nopenai.model = \"m\"\n", []ConfigSetting{{"provider.openai.model", "openai-model", "m", 2}}},
		{"[tools]\nallow_commands = []\n", nil},
		{"metrics = \"\"\n", []ConfigSetting{{"metrics", "metrics", "", 1}}},
		{"provider.name = 'OpenAI'\n", []ConfigSetting{{"provider.name", "provider", "openai", 1}}},
	} {
		cf, err := ParseConfigFile("c.toml", []byte(tc.doc))
		if err != nil {
			t.Errorf("%q: %v", tc.doc, err)
			continue
		}
		if !slices.Equal(cf.Settings, tc.want) {
			t.Errorf("%q:\n got %v\nwant %v", tc.doc, cf.Settings, tc.want)
		}
	}
}

// TestParseConfigFileErrors: every bad file is an error naming the file,
// the line and (where there is one) the key.
func TestParseConfigFileErrors(t *testing.T) {
	t.Setenv("RWTEST_UNSET", "")
	for _, tc := range []struct {
		doc  string
		want string
	}{
		{"socket = \"/s\"\n\n[limits]\nmax_conns = 3\n\n\nmax_con = 4\n", `ringwired.toml:7: key "limits.max_con": unknown key`},
		{"max_con = 3\n", `ringwired.toml:1: key "max_con": unknown key`},
		{"limits={mAX_inflight=10}", `ringwired.toml:1: key "limits.mAX_inflight": unknown key (keys are case-sensitive: "limits.max_inflight")`},
		{"\n[Limits]\nmax_conns = 3\n", `ringwired.toml:2: key "Limits": unknown key (keys are case-sensitive: "limits")`},
		{"Socket = \"/s\"\n", `ringwired.toml:1: key "Socket": unknown key (keys are case-sensitive: "socket")`},
		{"\n[limit]\nmax_conns = 3\n", `ringwired.toml:2: key "limit": unknown table`},
		{"[provider.openai]\napi_key = \"sk-secret\"\n", `ringwired.toml:2: key "provider.openai.api_key": the API key is never read from the file`},
		{"api_key = \"sk-secret\"\n", `ringwired.toml:1: key "api_key": the API key is never read`},
		{"[provider]\napi_key = \"sk-secret\"\n", `ringwired.toml:2: key "provider.api_key": the API key is never read`},
		{"[limits]\nmax_conns = \"many\"\n", `ringwired.toml:2: key "limits.max_conns": is a TOML string; want an integer`},
		{"[limits]\nmax_conns = 0\n", `ringwired.toml:2: key "limits.max_conns": 0: must be positive`},
		{"[limits]\nmax_inflight = -3\n", `ringwired.toml:2: key "limits.max_inflight": -3: must be positive`},
		{"[limits]\nmax_payload = 10485761\n", `ringwired.toml:2: key "limits.max_payload": 10485761: must be in [1, 10485760]`},
		{"[limits]\nmax_conns = 99999999999999999999\n", `ringwired.toml:2:`},
		{"[limits]\ndrain_timeout = 10\n", `ringwired.toml:2: key "limits.drain_timeout": is a TOML integer; want a duration string such as "10s"`},
		{"[limits]\ndrain_timeout = \"10 s\"\n", `ringwired.toml:2: key "limits.drain_timeout": "10 s" is not a duration`},
		{"[limits]\ndrain_timeout = \"-1s\"\n", `ringwired.toml:2: key "limits.drain_timeout": -1s is negative`},
		{"limits = 3\n", `ringwired.toml:1: key "limits": is a TOML integer; want a table ([limits])`},
		{"transport = \"udp\"\n", `ringwired.toml:1: key "transport": "udp": want "shm", "socket" or "both"`},
		{"log_level = \"loud\"\n", `ringwired.toml:1: key "log_level": "loud": want "debug"`},
		{"\n\nprovider.name = \"gemini\"\n", `ringwired.toml:3: key "provider.name": "gemini": unknown provider (available: mock, openai)`},
		{"metrics = \"9464\"\n", `ringwired.toml:1: key "metrics": "9464": want host:port`},
		{"[provider.openai]\nbase_url = \"localhost:8080\"\n", `ringwired.toml:2: key "provider.openai.base_url": "localhost:8080": want an http:// or https:// URL`},
		{"[provider.openai]\napi_key_env = \"MY KEY\"\n", `ringwired.toml:2: key "provider.openai.api_key_env": "MY KEY" is not an environment variable name`},
		{"socket = \"run/x.sock\"\n", `ringwired.toml:1: key "socket": "run/x.sock" is relative`},
		{"workspace = \"$RWTEST_UNSET/ws\"\n", `ringwired.toml:1: key "workspace": "$RWTEST_UNSET/ws": environment variable RWTEST_UNSET is not set`},
		{"workspace = 7\n", `ringwired.toml:1: key "workspace": is a TOML integer; want a path string`},
		{"[tools]\nallow_commands = \"go\"\n", `ringwired.toml:2: key "tools.allow_commands": is a TOML string; want an array of strings`},
		{"[tools]\nallow_commands = [\"go\", 3]\n", `ringwired.toml:2: key "tools.allow_commands": is a TOML integer; want an array of strings`},
		{"[tools]\nallow_commands = [\"go\", \"a,b\"]\n", `ringwired.toml:2: key "tools.allow_commands": element 2: "a,b": a command name cannot contain a comma`},
		{"[tools]\nallow_commands = [\" \"]\n", `ringwired.toml:2: key "tools.allow_commands": an empty command name`},
		{"[tools]\ndebug_tools = \"yes\"\n", `ringwired.toml:2: key "tools.debug_tools": is a TOML string; want true or false`},
		{"[compression]\nshm = -2\n", `ringwired.toml:2: key "compression.shm": -2: want -1 (off)`},
		{"[limits]\nmax_conns = 3\nmax_conns = 4\n", `ringwired.toml:3: key "max_conns": set twice`},
		{"[limits\n", `ringwired.toml:1:8: expected ']'`},
		{"socket = \n", `ringwired.toml:1:`},
		{"[[limits]]\nmax_conns = 1\n", `ringwired.toml:1:`},
	} {
		_, err := ParseConfigFile("ringwired.toml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig) {
			t.Errorf("%q:\n got %v\nwant %s", tc.doc, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "sk-secret") {
			t.Errorf("%q: the error shows the key: %v", tc.doc, err)
		}
	}
}

// TestParseConfigFileSeveralUnknown reports every unknown key at once.
func TestParseConfigFileSeveralUnknown(t *testing.T) {
	_, err := ParseConfigFile("c.toml", []byte("max_con = 1\n[limits]\ninflight = 2\n"))
	var ce *ConfigFileError
	if !errors.As(err, &ce) || ce.Line != 1 || ce.Key != "max_con" {
		t.Fatalf("first error: %v", err)
	}
	if !strings.Contains(err.Error(), `c.toml:3: key "limits.inflight": unknown key`) {
		t.Errorf("second key missing: %v", err)
	}
}

// newTestFlags is a subset of ringwired's flags.
func newTestFlags() (*flag.FlagSet, *int, *time.Duration, *string, *[]string) {
	fs := flag.NewFlagSet("ringwired", flag.ContinueOnError)
	conns := fs.Int("max-conns", DefaultMaxConns, "")
	drain := fs.Duration("drain-timeout", DefaultDrainTimeout, "")
	tr := fs.String("transport", "both", "")
	var cmds []string
	fs.Func("allow-command", "", func(v string) error {
		cmds = append(cmds, strings.Split(v, ",")...)
		return nil
	})
	return fs, conns, drain, tr, &cmds
}

// TestApplyFlagsPrecedence: a flag on the command line beats the file,
// the file beats the default.
func TestApplyFlagsPrecedence(t *testing.T) {
	doc := "transport = \"socket\"\n[limits]\nmax_conns = 5\ndrain_timeout = \"2s\"\n[tools]\nallow_commands = [\"go\", \"git\"]\n"
	cf, err := ParseConfigFile("c.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		conns int
		drain time.Duration
		tr    string
		cmds  []string
	}{
		{nil, 5, 2 * time.Second, "socket", []string{"go", "git"}},
		{[]string{"-max-conns", "9"}, 9, 2 * time.Second, "socket", []string{"go", "git"}},
		{[]string{"-max-conns=5000", "-drain-timeout", "0s", "-transport", "shm"}, 5000, 0, "shm", []string{"go", "git"}},
		{[]string{"-allow-command", "make"}, 5, 2 * time.Second, "socket", []string{"make"}},
	} {
		fs, conns, drain, tr, cmds := newTestFlags()
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if err := cf.ApplyFlags(fs); err != nil {
			t.Fatal(err)
		}
		if *conns != tc.conns || *drain != tc.drain || *tr != tc.tr || !slices.Equal(*cmds, tc.cmds) {
			t.Errorf("%q: conns %d, drain %v, transport %s, commands %q; want %d, %v, %s, %q",
				tc.args, *conns, *drain, *tr, *cmds, tc.conns, tc.drain, tc.tr, tc.cmds)
		}
	}
	// No file: the defaults.
	fs, conns, drain, _, _ := newTestFlags()
	_ = fs.Parse(nil)
	if err := (&ConfigFile{}).ApplyFlags(fs); err != nil || *conns != DefaultMaxConns || *drain != DefaultDrainTimeout {
		t.Errorf("empty file: %v, %d, %v", err, *conns, *drain)
	}
}

// TestApplyFlagsErrors: a key whose flag is missing or refuses the value
// names the key and line.
func TestApplyFlagsErrors(t *testing.T) {
	cf, err := ParseConfigFile("c.toml", []byte("\nmetrics = \"127.0.0.1:1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	fs, _, _, _, _ := newTestFlags()
	_ = fs.Parse(nil)
	if err := cf.ApplyFlags(fs); err == nil || err.Error() != `c.toml:2: key "metrics": this ringwired has no -metrics flag` {
		t.Errorf("missing flag: %v", err)
	}
	bad := &ConfigFile{Path: "c.toml", Settings: []ConfigSetting{{Key: "limits.max_conns", Flag: "max-conns", Value: "x", Line: 4}}}
	if err := bad.ApplyFlags(fs); err == nil || !strings.HasPrefix(err.Error(), `c.toml:4: key "limits.max_conns": `) {
		t.Errorf("refused value: %v", err)
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ringwired.toml")
	if _, err := LoadConfigFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("[limits]\nmax_conns = 12\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cf, err := LoadConfigFile(path)
	if err != nil || len(cf.Settings) != 1 || cf.Settings[0].Value != "12" || cf.Path != path {
		t.Fatalf("LoadConfigFile: %v, %+v", err, cf)
	}
	if err := os.Chmod(path, 0o620); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigFile(path); err == nil || !strings.Contains(err.Error(), "writable by group or others (mode 0620); run chmod go-w") {
		t.Errorf("group-writable file: %v", err)
	}
	if _, err := LoadConfigFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxConfigFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfigFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

func TestDefaultConfigFilePath(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	if p := DefaultConfigFilePath(); p != "/cfg/ringwire/ringwired.toml" {
		t.Errorf("XDG_CONFIG_HOME: %s", p)
	}
	t.Setenv("XDG_CONFIG_HOME", "relative")
	if p := DefaultConfigFilePath(); p != "/home/u/.config/ringwire/ringwired.toml" {
		t.Errorf("relative XDG_CONFIG_HOME: %s", p)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	if p := DefaultConfigFilePath(); p != "/home/u/.config/ringwire/ringwired.toml" {
		t.Errorf("HOME: %s", p)
	}
	t.Setenv("HOME", "")
	if p := DefaultConfigFilePath(); p != "" {
		t.Errorf("no HOME: %s", p)
	}
}

// FuzzParseConfigFile: no input panics or hangs the parser, and what it
// accepts has a line for every setting.
func FuzzParseConfigFile(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte("limits = { max_inflight = 7 }\n"))
	f.Add([]byte("[limits]\nmax_conns = 3\nmax_conns = 4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := ParseConfigFile("f.toml", data)
		if err != nil {
			return
		}
		for _, s := range cf.Settings {
			if s.Line < 1 {
				t.Fatalf("setting %+v has no line", s)
			}
		}
	})
}

// TestReadmeExample: the example in README.md, "Configuration file",
// parses and sets every key the schema has.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## Configuration file")
	if i < 0 {
		t.Fatal("no Configuration file section")
	}
	s = s[i:]
	start := strings.Index(s, "```toml\n")
	end := strings.Index(s[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no toml block")
	}
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	cf, err := ParseConfigFile("README.md", []byte(s[start+8:start+8+end]))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, st := range cf.Settings {
		keys[st.Key] = true
	}
	if n := schemaLeaves(reflect.TypeFor[fileSchema]()); len(keys) != n {
		t.Errorf("the example sets %d keys, the schema has %d: %v", len(keys), n, keys)
	}
}

// schemaLeaves counts the keys of a schema struct type.
func schemaLeaves(t reflect.Type) int {
	n := 0
	for i := range t.NumField() {
		if ft := t.Field(i).Type; ft.Kind() == reflect.Struct {
			n += schemaLeaves(ft)
		} else {
			n++
		}
	}
	return n
}
