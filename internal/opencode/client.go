// Package opencode is a client for the parts of OpenCode's HTTP API ocw
// uses (checked against v1.18.33; every route needs basic auth), and ocw
// auth push. Error messages never include response bodies: OpenCode's
// validation errors echo the input, which for /auth is credentials.
package opencode

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// defaultUsername is OpenCode's basic-auth user when
// OPENCODE_SERVER_USERNAME is unset.
const defaultUsername = "opencode"

// Client talks to one OpenCode server.
type Client struct {
	base     *url.URL
	username string
	password string
	http     *http.Client
}

// ErrPlainHTTP refuses a plain http URL to another machine: every request
// carries the server password, and auth requests the Copilot login.
var ErrPlainHTTP = errors.New("plain http to a host that is not this machine would send the password and the login unencrypted")

// Options change how New checks and connects.
type Options struct {
	// PlainHTTP accepts plain http to a host that is not this machine
	// (--insecure).
	PlainHTTP bool
	// Roots, when set, verify the server's certificate (--ca-file: the
	// system's pool plus the private CA that signed the Gateway's).
	Roots *x509.CertPool
}

// New returns a client for the server at base (scheme://host[:port]/; any
// path is ignored: OpenCode has no base-path support). Plain http is
// accepted only to this machine (a port-forward) unless o.PlainHTTP.
func New(base, username, password string, o Options) (*Client, error) {
	u, err := CheckURL(base, o.PlainHTTP)
	if err != nil {
		return nil, err
	}
	if username == "" {
		username = defaultUsername
	}
	// Redirects are never followed: Go re-sends the Authorization header
	// to the same host name on any scheme and port (https to http
	// included), and a 307 or 308 re-sends the body, which for auth is the
	// login itself.
	h := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if o.Roots != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: o.Roots, MinVersion: tls.VersionTLS12}
		h.Transport = tr
	}
	return &Client{base: u, username: username, password: password, http: h}, nil
}

// CheckURL returns the server URL New would use for base, or why base is
// refused; callers check it before anything else touches the network.
func CheckURL(base string, plainHTTP bool) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("opencode: bad URL %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("opencode: URL %q must be http(s)://host[:port]/", base)
	}
	if u.User != nil {
		// Credentials travel in the Authorization header only.
		return nil, fmt.Errorf("opencode: the URL must not contain credentials")
	}
	local := u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback()
	if u.Scheme == "http" && !local && !plainHTTP {
		return nil, fmt.Errorf("opencode: %s: %w", (&url.URL{Scheme: u.Scheme, Host: u.Host}).String(), ErrPlainHTTP)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// URL is the server's base URL (no credentials).
func (c *Client) URL() string { return c.base.String() + "/" }

// Health is the answer of GET /global/health.
type Health struct {
	Healthy bool   `json:"healthy"`
	Version string `json:"version"`
}

// Health checks the server and the credentials.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	body, err := c.do(ctx, http.MethodGet, "/global/health", nil)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return h, fmt.Errorf("opencode: GET /global/health: unexpected answer")
	}
	return h, nil
}

// SetAuth stores credentials for a provider (PUT /auth/{provider}); OpenCode
// writes them to its auth.json. info is the provider's auth.json entry.
func (c *Client) SetAuth(ctx context.Context, provider string, info json.RawMessage) error {
	body, err := c.do(ctx, http.MethodPut, "/auth/"+url.PathEscape(provider), info)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(body)) != "true" {
		return fmt.Errorf("opencode: PUT /auth/%s: unexpected answer", provider)
	}
	return nil
}

// Dispose drops the loaded instance (POST /instance/dispose), so that new
// credentials take effect without a restart.
func (c *Client) Dispose(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodPost, "/instance/dispose", nil)
	return err
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Method, Path string
	Code         int
	// Location is where a redirect pointed (scheme, host and path only).
	Location string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("opencode: %s %s: HTTP %d %s", e.Method, e.Path, e.Code, http.StatusText(e.Code))
	switch {
	case e.Code == http.StatusUnauthorized:
		msg += " (wrong server user name or password)"
	case e.Code >= 300 && e.Code <= 399:
		to := ""
		if e.Location != "" {
			to = " to " + e.Location
		}
		msg += fmt.Sprintf(": redirect%s not followed, it would carry the credentials there; point ocw at the final URL", to)
	}
	return msg
}

func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	u := *c.base
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("opencode: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(c.username, c.password)
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error names the URL, which carries no credentials.
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("opencode: %w (if a private CA signed the Gateway's certificate, pass it with --ca-file)", err)
		}
		return nil, fmt.Errorf("opencode: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("opencode: %s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &StatusError{Method: method, Path: path, Code: resp.StatusCode}
		// Without user info, query or fragment: they may carry tokens.
		if u, err := resp.Location(); err == nil {
			e.Location = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
		}
		return nil, e
	}
	return data, nil
}
