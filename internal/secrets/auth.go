// Package secrets writes a namespace's shared Secrets and reads a local
// auth.json. Secret values never appear in error messages: they name files,
// Secrets, keys and provider ids only.
package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CopilotProvider is the provider id of GitHub Copilot in auth.json.
const CopilotProvider = "github-copilot"

// defaultAuthPath is where OpenCode keeps its logins on this machine:
// $XDG_DATA_HOME/opencode/auth.json, else ~/.local/share/opencode/auth.json.
func defaultAuthPath(getenv func(string) string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "opencode", "auth.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot locate auth.json: no home directory; pass --from PATH")
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "opencode", "auth.json"), nil
}

// Auth is a validated auth.json, reduced to the providers ocw copies.
type Auth struct {
	// Content is the auth.json for the Secret, keys sorted: the same login
	// always gives the same bytes, so an unchanged one is not written again.
	Content []byte
	// Copilot is the github-copilot entry, the body of PUT /auth/github-copilot.
	Copilot json.RawMessage
	// Providers are the ids in Content; Skipped those left out.
	Providers, Skipped []string
}

// Fingerprint describes b without revealing it: "<n> bytes, sha256 <first
// 12 hex digits>" (the seed-auth container records the same hash next to
// auth.json, in auth.json.ocw-seeded).
func Fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes, sha256 %s", len(b), hex.EncodeToString(sum[:])[:12])
}

// copilotEntry is the github-copilot entry's schema as OpenCode v1.18
// validates it on PUT /auth (type, refresh, access, expires >= 0).
type copilotEntry struct {
	Type    *string  `json:"type"`
	Refresh *string  `json:"refresh"`
	Access  *string  `json:"access"`
	Expires *float64 `json:"expires"`
}

// ReadAuthFile reads and validates the auth.json at path ("": this
// machine's OpenCode's) and returns the path read.
func ReadAuthFile(path string, allProviders bool) (string, *Auth, error) {
	if path == "" {
		var err error
		if path, err = defaultAuthPath(os.Getenv); err != nil {
			return "", nil, err
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return path, nil, fmt.Errorf("%s does not exist: log in to GitHub Copilot with OpenCode on this machine first (opencode auth login), or pass --from PATH", path)
	}
	if err != nil {
		return path, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	a, err := ParseAuth(data, allProviders)
	if err != nil {
		return path, nil, fmt.Errorf("%s: %w", path, err)
	}
	return path, a, nil
}

// ParseAuth validates an auth.json: a JSON object holding a github-copilot
// entry of type oauth with a non-empty refresh token. Only that entry is
// kept unless allProviders is set: a workspace should not receive API keys
// it was not meant to have.
func ParseAuth(data []byte, allProviders bool) (*Auth, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("auth.json is empty")
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &entries); err != nil {
		// The JSON error would quote part of the input: report the position only.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("not valid JSON (syntax error at byte %d)", syn.Offset)
		}
		return nil, errors.New("not a JSON object of providers")
	}
	if entries == nil {
		return nil, errors.New("not a JSON object of providers")
	}
	ids := slices.Sorted(maps.Keys(entries))
	raw, ok := entries[CopilotProvider]
	if !ok {
		have := "none"
		if len(ids) > 0 {
			have = strings.Join(ids, ", ")
		}
		return nil, fmt.Errorf("no %s login (providers present: %s): run opencode auth login and choose GitHub Copilot", CopilotProvider, have)
	}
	copilot, err := validateCopilot(raw)
	if err != nil {
		return nil, err
	}

	keep := map[string]json.RawMessage{CopilotProvider: copilot}
	a := &Auth{Copilot: copilot}
	// Unmarshal checked every entry; MarshalIndent re-indents them.
	for _, id := range ids {
		switch {
		case id == CopilotProvider:
		case allProviders:
			keep[id] = entries[id]
		default:
			a.Skipped = append(a.Skipped, id)
		}
	}
	a.Providers = slices.Sorted(maps.Keys(keep))
	a.Content, err = json.MarshalIndent(keep, "", "  ")
	if err != nil {
		return nil, errors.New("cannot encode auth.json")
	}
	return a, nil
}

func validateCopilot(raw json.RawMessage) (json.RawMessage, error) {
	var e copilotEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%s entry is not an object with type, refresh, access and expires", CopilotProvider)
	}
	switch {
	case e.Type == nil:
		return nil, fmt.Errorf("%s entry has no type (want oauth)", CopilotProvider)
	case *e.Type != "oauth":
		return nil, fmt.Errorf("%s entry has type %q, want oauth: log in again with opencode auth login", CopilotProvider, *e.Type)
	case e.Refresh == nil || strings.TrimSpace(*e.Refresh) == "":
		return nil, fmt.Errorf("%s entry has no refresh token: log in again with opencode auth login", CopilotProvider)
	case e.Expires != nil && *e.Expires < 0:
		return nil, fmt.Errorf("%s entry has a negative expires", CopilotProvider)
	}
	var c bytes.Buffer
	err := json.Compact(&c, raw) // valid: Unmarshal checked it
	return c.Bytes(), err
}

// PushBody checks that the github-copilot entry has every field OpenCode's
// PUT /auth requires (older logins may lack access or expires).
func (a *Auth) PushBody() (json.RawMessage, error) {
	var e copilotEntry
	if err := json.Unmarshal(a.Copilot, &e); err != nil {
		return nil, err
	}
	if e.Access == nil || e.Expires == nil {
		return nil, fmt.Errorf("%s entry lacks access or expires, which OpenCode's API requires: log in again with opencode auth login", CopilotProvider)
	}
	return a.Copilot, nil
}

// MergeCopilot returns existing (an auth.json) with its github-copilot entry
// replaced by copilot, keeping the other providers; existing content that is
// not a JSON object is replaced entirely.
func MergeCopilot(existing []byte, copilot json.RawMessage) ([]byte, error) {
	var entries map[string]json.RawMessage
	if json.Unmarshal(existing, &entries) != nil || entries == nil {
		entries = map[string]json.RawMessage{}
	}
	entries[CopilotProvider] = copilot
	return json.MarshalIndent(entries, "", "  ")
}

// CleanToken validates a git token read from stdin or the environment: one
// line of printable ASCII without spaces (a trailing newline is dropped).
// A token pasted with a stray character would fail every clone later.
func CleanToken(raw string) (string, error) {
	t := strings.TrimSpace(raw)
	if t == "" {
		return "", errors.New("the token is empty")
	}
	for _, r := range t {
		if r <= ' ' || r > '~' {
			return "", errors.New("the token must be one line of printable ASCII without spaces")
		}
	}
	return t, nil
}
