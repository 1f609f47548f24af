package daemon

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/ringwire/ringwire/protocol"
)

// MaxConfigFileSize is the largest configuration file LoadConfigFile
// reads (64 KiB: a ringwired.toml is a few hundred bytes).
const MaxConfigFileSize = 64 << 10

// ConfigFile is ringwired's configuration file, ringwired.toml, as parsed
// by LoadConfigFile or ParseConfigFile: each key the file sets, with the
// ringwired flag it stands for and the line it is on. Every key is a
// default for its flag: a flag given on the command line wins (ApplyFlags).
//
// The keys (README.md, "Configuration", has an example):
//
//	socket, transport, log_level, metrics, workspace
//	[provider]        name, mock_token_delay
//	[provider.openai] base_url, model, api_key_env, idle_timeout
//	[tools]           allow_commands, debug_tools
//	[limits]          max_conns, max_ring_size, max_payload, max_inflight, drain_timeout
//	[compression]     shm, socket
//
// Durations are strings ("10s", "2m"); socket and workspace are absolute
// paths, or start with "~/", and may name environment variables ($VAR or
// ${VAR}, which must be set). There is no key for the API key itself:
// api_key_env names the environment variable that holds it.
type ConfigFile struct {
	// Path is the file's name as errors show it.
	Path string
	// Settings are the keys the file sets, in the order of the schema
	// above (one per element for allow_commands).
	Settings []ConfigSetting
}

// ConfigSetting is one key of a configuration file.
type ConfigSetting struct {
	// Key is the dotted key, e.g. "limits.max_conns".
	Key string
	// Flag is the ringwired flag the key stands for, without its dash:
	// "max-conns".
	Flag string
	// Value is the value in the flag's syntax ("1024", "10s", "true").
	Value string
	// Line is the key's line in the file (1-based).
	Line int
}

// ConfigFileError is an error in a configuration file, at a key or (for a
// syntax error) at a line and column. It wraps ErrConfig.
type ConfigFileError struct {
	Path   string
	Line   int
	Column int    // set for syntax errors only
	Key    string // dotted key; empty for syntax errors
	Msg    string
}

func (e *ConfigFileError) Error() string {
	switch {
	case e.Key == "" && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Column, e.Msg)
	case e.Key == "":
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: key %q: %s", e.Path, e.Line, e.Key, e.Msg)
}

// Unwrap returns ErrConfig.
func (e *ConfigFileError) Unwrap() error { return ErrConfig }

// DefaultConfigFilePath returns where ringwired looks for its
// configuration file when -config is not given:
// $XDG_CONFIG_HOME/ringwire/ringwired.toml, XDG_CONFIG_HOME defaulting to
// ~/.config (a relative XDG_CONFIG_HOME is ignored, as the XDG Base
// Directory specification says). It returns "" when neither
// XDG_CONFIG_HOME nor HOME is set.
func DefaultConfigFilePath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home := os.Getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "ringwire", "ringwired.toml")
}

// LoadConfigFile reads and parses the configuration file at path (see
// ConfigFile). The file must be a regular file of at most
// MaxConfigFileSize bytes, owned by this user or root and writable by
// neither group nor others: it chooses which commands run_command may run.
// A missing file is an error matching fs.ErrNotExist.
func LoadConfigFile(path string) (*ConfigFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("daemon: config file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("daemon: config file: %w", err)
	}
	if err := checkConfigFileMode(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("daemon: config file: %w", err)
	}
	if len(data) > MaxConfigFileSize {
		return nil, fmt.Errorf("%w: config file %s is larger than %d bytes", ErrConfig, path, MaxConfigFileSize)
	}
	return ParseConfigFile(path, data)
}

// checkConfigFileMode refuses a configuration file that is not a regular
// file, or that another user could have written.
func checkConfigFileMode(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: config file %s is not a regular file (%v)", ErrConfig, path, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if self := os.Geteuid(); int64(st.Uid) != int64(self) && st.Uid != 0 {
			return fmt.Errorf("%w: config file %s is owned by uid %d, neither uid %d nor root", ErrConfig, path, st.Uid, self)
		}
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: config file %s is writable by group or others (mode %04o); run chmod go-w %s", ErrConfig, path, perm, path)
	}
	return nil
}

// fileSchema is the file's layout. Every value is a pointer (nil: not
// set). The tags: toml, the key; flag, the ringwired flag; check, how the
// value is checked and converted (see checkValue).
type fileSchema struct {
	Socket    *string `toml:"socket" flag:"socket" check:"path"`
	Transport *string `toml:"transport" flag:"transport" check:"transport"`
	LogLevel  *string `toml:"log_level" flag:"log-level" check:"loglevel"`
	Metrics   *string `toml:"metrics" flag:"metrics" check:"hostport"`
	Workspace *string `toml:"workspace" flag:"workspace" check:"path"`
	Provider  struct {
		Name           *string `toml:"name" flag:"provider" check:"provider"`
		MockTokenDelay *string `toml:"mock_token_delay" flag:"mock-token-delay" check:"duration"`
		OpenAI         struct {
			BaseURL     *string `toml:"base_url" flag:"openai-base-url" check:"url"`
			Model       *string `toml:"model" flag:"openai-model"`
			APIKeyEnv   *string `toml:"api_key_env" flag:"openai-api-key-env" check:"envname"`
			IdleTimeout *string `toml:"idle_timeout" flag:"openai-idle-timeout" check:"duration"`
		} `toml:"openai"`
	} `toml:"provider"`
	Tools struct {
		AllowCommands *[]string `toml:"allow_commands" flag:"allow-command" check:"command"`
		DebugTools    *bool     `toml:"debug_tools" flag:"debug-tools"`
	} `toml:"tools"`
	Limits struct {
		MaxConns     *int    `toml:"max_conns" flag:"max-conns" check:"positive"`
		MaxRingSize  *int    `toml:"max_ring_size" flag:"max-ring-size" check:"positive"`
		MaxPayload   *int    `toml:"max_payload" flag:"max-payload" check:"payload"`
		MaxInflight  *int    `toml:"max_inflight" flag:"max-inflight" check:"positive"`
		DrainTimeout *string `toml:"drain_timeout" flag:"drain-timeout" check:"duration"`
	} `toml:"limits"`
	Compression struct {
		Shm    *int `toml:"shm" flag:"compress-shm" check:"compress"`
		Socket *int `toml:"socket" flag:"compress-socket" check:"compress"`
	} `toml:"compression"`
}

// forbiddenKeys are keys a person may well write that the file refuses
// with a reason rather than as unknown.
var forbiddenKeys = map[string]string{
	"provider.openai.api_key": "the API key is never read from the file (files get copied, synced and committed); put it in the environment and name the variable with api_key_env",
	"api_key":                 "the API key is never read from the file; put it in the environment and name the variable with provider.openai.api_key_env",
	"provider.api_key":        "the API key is never read from the file; put it in the environment and name the variable with provider.openai.api_key_env",
}

// ParseConfigFile parses a configuration file's contents; path names it
// in errors. Errors name the key and its line (a *ConfigFileError, or
// several joined with errors.Join when the file has several unknown keys):
// an unknown key, a value of the wrong type, an invalid value, a key set
// twice, a syntax error.
func ParseConfigFile(path string, data []byte) (*ConfigFile, error) {
	var s fileSchema
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, decodeFileError(path, err)
	}
	lines, err := keyLines(data)
	if err != nil { // the decoder parsed it; this would be a library bug
		return nil, fmt.Errorf("%w: config file %s: %v", ErrConfig, path, err)
	}
	// The decoder matches keys case-insensitively, as encoding/json does;
	// TOML keys are case-sensitive, so a key written otherwise than the
	// schema's is refused here.
	if err := checkKeyCase(path, lines); err != nil {
		return nil, err
	}
	cf := &ConfigFile{Path: path}
	if err := cf.collect(reflect.ValueOf(&s).Elem(), "", lines); err != nil {
		return nil, err
	}
	return cf, nil
}

// collect appends the settings found in the schema value v (a struct)
// whose keys start with prefix.
func (cf *ConfigFile) collect(v reflect.Value, prefix string, lines map[string]int) error {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		key := prefix + sf.Tag.Get("toml")
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := cf.collect(fv, key+".", lines); err != nil {
				return err
			}
			continue
		}
		if fv.IsNil() {
			continue
		}
		line := lines[key]
		bad := func(format string, args ...any) error {
			return &ConfigFileError{Path: cf.Path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
		}
		var values []string
		switch x := fv.Elem().Interface().(type) {
		case string:
			values = []string{x}
		case int:
			values = []string{strconv.Itoa(x)}
		case bool:
			values = []string{strconv.FormatBool(x)}
		case []string:
			values = x
		}
		for j, val := range values {
			val, err := checkValue(sf.Tag.Get("check"), val)
			if err != nil {
				if len(values) > 1 {
					return bad("element %d: %v", j+1, err)
				}
				return bad("%v", err)
			}
			cf.Settings = append(cf.Settings, ConfigSetting{Key: key, Flag: sf.Tag.Get("flag"), Value: val, Line: line})
		}
	}
	return nil
}

// schemaKeys lists the dotted keys of the schema, tables included.
func schemaKeys(t reflect.Type, prefix string, keys map[string]bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		key := prefix + sf.Tag.Get("toml")
		keys[key] = true
		if sf.Type.Kind() == reflect.Struct {
			schemaKeys(sf.Type, key+".", keys)
		}
	}
}

// checkKeyCase refuses keys of the file (lines: each key's line) that
// are not spelled exactly as the schema's.
func checkKeyCase(path string, lines map[string]int) error {
	keys := make(map[string]bool)
	schemaKeys(reflect.TypeFor[fileSchema](), "", keys)
	var bad []*ConfigFileError
	for k, line := range lines {
		if keys[k] {
			continue
		}
		msg := "unknown key"
		for sk := range keys {
			if strings.EqualFold(sk, k) {
				msg = fmt.Sprintf("unknown key (keys are case-sensitive: %q)", sk)
			}
		}
		bad = append(bad, &ConfigFileError{Path: path, Line: line, Key: k, Msg: msg})
	}
	if len(bad) == 0 {
		return nil
	}
	slices.SortFunc(bad, func(a, b *ConfigFileError) int { return cmp.Or(a.Line-b.Line, strings.Compare(a.Key, b.Key)) })
	if len(bad) == 1 {
		return bad[0]
	}
	errs := make([]error, len(bad))
	for i, e := range bad {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// checkValue checks one value as its schema tag says and returns it in
// its flag's syntax.
func checkValue(check, v string) (string, error) {
	switch check {
	case "path":
		return expandPath(v)
	case "duration":
		d, err := time.ParseDuration(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a duration (write e.g. \"10s\", \"2m\", \"500ms\")", v)
		}
		if d < 0 {
			return "", fmt.Errorf("%s is negative", v)
		}
	case "transport":
		if _, err := ParseTransports(v); err != nil {
			return "", fmt.Errorf("%q: want \"shm\", \"socket\" or \"both\"", v)
		}
	case "loglevel":
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err != nil {
			return "", fmt.Errorf("%q: want \"debug\", \"info\", \"warn\" or \"error\"", v)
		}
	case "provider":
		if v = strings.ToLower(v); v != "mock" && v != "openai" {
			return "", fmt.Errorf("%q: unknown provider (available: mock, openai)", v)
		}
	case "hostport":
		if v == "" {
			break
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return "", fmt.Errorf("%q: want host:port, e.g. \"127.0.0.1:9464\" (empty: off)", v)
		}
	case "url":
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("%q: want an http:// or https:// URL, e.g. \"http://127.0.0.1:11434/v1\"", v)
		}
	case "envname":
		if !envNameRE.MatchString(v) {
			return "", fmt.Errorf("%q is not an environment variable name (letters, digits, _)", v)
		}
	case "command":
		switch {
		case strings.TrimSpace(v) == "":
			return "", errors.New("an empty command name")
		case strings.Contains(v, ","):
			return "", fmt.Errorf("%q: a command name cannot contain a comma (-allow-command separates names with commas)", v)
		}
	case "positive":
		if n, _ := strconv.Atoi(v); n <= 0 {
			return "", fmt.Errorf("%s: must be positive", v)
		}
	case "payload":
		if n, _ := strconv.Atoi(v); n <= 0 || n > protocol.DefaultMaxPayload {
			return "", fmt.Errorf("%s: must be in [1, %d]", v, protocol.DefaultMaxPayload)
		}
	case "compress":
		if n, _ := strconv.Atoi(v); n < -1 {
			return "", fmt.Errorf("%s: want -1 (off) or a payload size in bytes from which to compress", v)
		}
	}
	return v, nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandPath expands a leading "~/" (the home directory) and environment
// variables in a path from the file, and requires the result to be
// absolute: ringwired, started by systemd, has no working directory a
// relative path could mean.
func expandPath(p string) (string, error) {
	var missing []string
	out := os.Expand(p, func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%q: environment variable %s is not set", p, missing[0])
	}
	if out == "~" || strings.HasPrefix(out, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%q: %v", p, err)
		}
		out = filepath.Join(home, out[1:])
	}
	if !filepath.IsAbs(out) {
		return "", fmt.Errorf("%q is relative; write an absolute path, or one starting with ~/ or $XDG_RUNTIME_DIR", p)
	}
	return filepath.Clean(out), nil
}

// mismatchRE takes apart go-toml's type-mismatch message.
var mismatchRE = regexp.MustCompile(`cannot decode TOML (\w+(?: \w+)?) into`)

// decodeFileError turns the decoder's errors into ConfigFileErrors that
// name the key and its line.
func decodeFileError(path string, err error) error {
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) {
		errs := make([]error, 0, len(sm.Errors))
		for i := range sm.Errors {
			de := &sm.Errors[i]
			line, _ := de.Position()
			key := strings.Join(de.Key(), ".")
			msg := "unknown key"
			if why, ok := forbiddenKeys[key]; ok {
				msg = why
			} else if strings.Contains(de.Error(), "table") {
				msg = "unknown table"
			}
			errs = append(errs, &ConfigFileError{Path: path, Line: line, Key: key, Msg: msg})
		}
		if len(errs) == 1 {
			return errs[0]
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return fmt.Errorf("%w: config file %s: %v", ErrConfig, path, err)
	}
	line, col := de.Position()
	key := strings.Join(de.Key(), ".")
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	if strings.Contains(msg, "already defined") && key != "" {
		// The key as the decoder names it: within its table.
		return &ConfigFileError{Path: path, Line: line, Key: key, Msg: "set twice (each key once per file)"}
	}
	if m := mismatchRE.FindStringSubmatch(msg); m != nil {
		if want := schemaKind(key); want != "" {
			msg = fmt.Sprintf("is a TOML %s; want %s", m[1], want)
		}
		return &ConfigFileError{Path: path, Line: line, Key: key, Msg: msg}
	}
	if key != "" && schemaKind(key) != "" {
		return &ConfigFileError{Path: path, Line: line, Key: key, Msg: msg}
	}
	return &ConfigFileError{Path: path, Line: line, Column: col, Msg: msg}
}

// schemaKind describes what the schema wants at key ("" if key is not in
// it).
func schemaKind(key string) string {
	t := reflect.TypeFor[fileSchema]()
	parts := strings.Split(key, ".")
	for i, p := range parts {
		var found *reflect.StructField
		for j := range t.NumField() {
			if sf := t.Field(j); sf.Tag.Get("toml") == p {
				found = &sf
				break
			}
		}
		if found == nil {
			return ""
		}
		ft := found.Type
		if ft.Kind() == reflect.Struct {
			if i == len(parts)-1 {
				return "a table ([" + key + "])"
			}
			t = ft
			continue
		}
		if i != len(parts)-1 {
			return ""
		}
		switch found.Tag.Get("check") {
		case "duration":
			return `a duration string such as "10s"`
		case "path":
			return "a path string"
		}
		switch ft.Elem().Kind() {
		case reflect.String:
			return "a string"
		case reflect.Int:
			return "an integer"
		case reflect.Bool:
			return "true or false"
		case reflect.Slice:
			return `an array of strings, e.g. ["go", "git"]`
		}
	}
	return ""
}

// keyLines maps each dotted key of a TOML document, tables included, to
// the line it is written on. The document has already been decoded.
func keyLines(data []byte) (map[string]int, error) {
	lines := make(map[string]int)
	var p unstable.Parser
	p.Reset(data)
	line := func(n *unstable.Node) int { return p.Shape(n.Raw).Start.Line }
	var keyValue func(n *unstable.Node, prefix string)
	keyValue = func(n *unstable.Node, prefix string) {
		key, first := joinKey(n.Key(), prefix)
		if first != nil {
			lines[key] = line(first)
		}
		if v := n.Value(); v.Kind == unstable.InlineTable {
			it := v.Children()
			for it.Next() {
				keyValue(it.Node(), key+".")
			}
		}
	}
	prefix := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			key, first := joinKey(e.Key(), "")
			if first != nil {
				lines[key] = line(first)
			}
			prefix = key + "."
		case unstable.KeyValue:
			keyValue(e, prefix)
		}
	}
	return lines, p.Error()
}

// joinKey joins a key's parts after prefix and returns its first part's
// node (for its position).
func joinKey(it unstable.Iterator, prefix string) (string, *unstable.Node) {
	var b strings.Builder
	b.WriteString(prefix)
	var first *unstable.Node
	for it.Next() {
		if first == nil {
			first = it.Node()
		} else {
			b.WriteByte('.')
		}
		b.Write(it.Node().Data)
	}
	return b.String(), first
}

// ApplyFlags sets fs's flags from the file, except those given on the
// command line (fs.Parse has run; flag.FlagSet.Visit tells them): flags
// override the file, the file overrides the flags' defaults. A key whose
// flag fs does not define, or whose value the flag refuses, is an error
// naming the key and its line.
func (cf *ConfigFile) ApplyFlags(fs *flag.FlagSet) error {
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, s := range cf.Settings {
		if given[s.Flag] {
			continue
		}
		if fs.Lookup(s.Flag) == nil {
			return &ConfigFileError{Path: cf.Path, Line: s.Line, Key: s.Key, Msg: fmt.Sprintf("this %s has no -%s flag", fs.Name(), s.Flag)}
		}
		if err := fs.Set(s.Flag, s.Value); err != nil {
			return &ConfigFileError{Path: cf.Path, Line: s.Line, Key: s.Key, Msg: err.Error()}
		}
	}
	return nil
}
