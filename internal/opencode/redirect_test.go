package opencode_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/opencode-workspaces/ocw/internal/opencode"
)

// elsewhere records every request it gets: where a redirect would take
// the credentials.
type elsewhere struct {
	mu   sync.Mutex
	seen []string
}

func (e *elsewhere) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.seen = append(e.seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization")+" body="+string(body))
	e.mu.Unlock()
	_, _ = io.WriteString(w, "true")
}

func (e *elsewhere) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen...)
}

// A server that answers health and redirects everything else to target.
func redirecting(code int, target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/global/health" && code != http.StatusFound {
			_, _ = io.WriteString(w, `{"healthy":true,"version":"1.18.33"}`)
			return
		}
		http.Redirect(w, r, target+r.URL.Path+"?token=query-secret", code)
	})
}

// Redirects are never followed: a 307/308 would re-send the login (the
// body), and any redirect to the same host name keeps the Authorization
// header, https to http included.
func TestRedirectsAreNotFollowed(t *testing.T) {
	const refresh = "gho_REFRESHTOKENVALUE0123456789"
	body := json.RawMessage(`{"type":"oauth","refresh":"` + refresh + `","access":"` + refresh + `","expires":0}`)
	sink := &elsewhere{}
	other := httptest.NewServer(sink) // plain http, 127.0.0.1, another port
	defer other.Close()

	for _, c := range []struct {
		name string
		code int
		tls  bool
	}{
		{"307 on PUT /auth", http.StatusTemporaryRedirect, false},
		{"308 on PUT /auth", http.StatusPermanentRedirect, false},
		{"302 https to http", http.StatusFound, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := redirecting(c.code, other.URL)
			var srv *httptest.Server
			if c.tls {
				srv = httptest.NewTLSServer(h)
			} else {
				srv = httptest.NewServer(h)
			}
			defer srv.Close()
			var opts opencode.Options // trusts the test certificate; redirects stay off
			if c.tls {
				opts.Roots = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
			}
			oc, err := opencode.New(srv.URL, "", "the-server-password", opts)
			if err != nil {
				t.Fatal(err)
			}

			if c.tls {
				_, err = oc.Health(t.Context())
			} else {
				err = oc.SetAuth(t.Context(), "github-copilot", body)
			}
			var se *opencode.StatusError
			want := "redirect to " + other.URL + "/"
			if !errors.As(err, &se) || se.Code != c.code || !strings.Contains(err.Error(), want) ||
				!strings.Contains(err.Error(), "not followed, it would carry the credentials there") {
				t.Errorf("want HTTP %d and %q, got %v", c.code, want, err)
			}
			if err != nil && strings.Contains(err.Error(), "query-secret") {
				t.Errorf("error quotes the redirect's query: %v", err)
			}
		})
	}
	if got := sink.requests(); len(got) > 0 {
		t.Errorf("credentials followed a redirect to %s:\n%s", other.URL, strings.Join(got, "\n"))
	}
}

// Plain http carries the password (and for auth, the login) in clear:
// only to this machine, unless asked for.
func TestPlainHTTPOnlyToThisMachine(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:4096/", "http://localhost:4096/", "http://[::1]:4096/", "https://flux.example.com/"} {
		if _, err := opencode.New(u, "", "pw", opencode.Options{}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"http://192.0.2.10:4096/", "http://flux.example.com/", "http://localhost.example.com/", "http://10.0.0.1/"} {
		_, err := opencode.New(u, "", "pw", opencode.Options{})
		if !errors.Is(err, opencode.ErrPlainHTTP) {
			t.Errorf("%s: want ErrPlainHTTP, got %v", u, err)
		}
		if _, err := opencode.New(u, "", "pw", opencode.Options{PlainHTTP: true}); err != nil {
			t.Errorf("%s with PlainHTTP: %v", u, err)
		}
	}
}
