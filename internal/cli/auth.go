package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/opencode"
	"github.com/opencode-workspaces/ocw/internal/secrets"
)

func newAuthCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Give the workspaces your GitHub Copilot login",
		Long: `Copy the GitHub Copilot login of OpenCode on this machine to the
workspaces: "seed" stores it in the Copilot Secret (each workspace copies it
onto its volume at start), "push" sends it to a running workspace through
OpenCode's API, without a restart.

The login is read from $XDG_DATA_HOME/opencode/auth.json, else
~/.local/share/opencode/auth.json (log in there with: opencode auth login).`,
	}
	cmd.AddCommand(newAuthSeedCmd(s), newAuthPushCmd(s))
	return cmd
}

type authSeedOptions struct {
	secretFlags
	from         string
	dryRun       string
	allProviders bool
}

func newAuthSeedCmd(s Streams) *cobra.Command {
	o := &authSeedOptions{}
	cmd := &cobra.Command{
		Use:   "seed -f FILE [--from PATH] [--dry-run=server] [--all-providers]",
		Short: "Store your local Copilot login in the Copilot Secret",
		Long: `Read the local auth.json, check it holds a GitHub Copilot login (type
oauth with a refresh token), and store it in the Copilot Secret (default
opencode-copilot-auth, key auth.json) with server-side apply. Only the
github-copilot entry is copied unless --all-providers is given. An
unchanged login writes nothing.

Each workspace copies the Secret onto its volume when it starts, so running
workspaces get it at their next restart; Reloader restarts them
automatically when enabled. ocw auth push applies it without a restart.

--dry-run=server (or a bare --dry-run) prints the Secret that would be
written, with its data redacted, and sends the write as a server-side dry
run: the API server checks it and says whether it would create, update or
leave the Secret, and nothing is stored. In the external-secrets modes ocw
writes no Secret, so it only prints it.`,
		Example: `  ocw auth seed -f workspaces.yaml
  ocw auth seed -f workspaces.yaml --dry-run
  ocw auth seed -f workspaces.yaml --from ./auth.json --all-providers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, s) },
	}
	o.add(cmd, "external-secrets modes: print the auth.json to put in the store to stdout")
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "auth.json to read (default: $XDG_DATA_HOME/opencode/auth.json or ~/.local/share/opencode/auth.json)")
	addDryRunFlag(cmd, &o.dryRun, `"server": print the Secret with its data redacted and check the write with a server-side dry run; write nothing`)
	f.BoolVar(&o.allProviders, "all-providers", false, "copy every provider's login, not only github-copilot")
	return cmd
}

func (o *authSeedOptions) run(cmd *cobra.Command, s Streams) error {
	if err := o.check(); err != nil {
		return err
	}
	dryRun, err := serverDryRun(o.dryRun)
	if err != nil {
		return err
	}
	sys, err := loadSystem(s, o.file)
	if err != nil {
		return err
	}
	path, auth, err := secrets.ReadAuthFile(o.from, o.allProviders)
	if err != nil {
		return err
	}
	ref := sys.Secrets.Copilot
	fmt.Fprintf(s.Err, "read %s: copying %s", path, strings.Join(auth.Providers, ", "))
	if len(auth.Skipped) > 0 {
		fmt.Fprintf(s.Err, "; left out %s (--all-providers copies them)", strings.Join(auth.Skipped, ", "))
	}
	fmt.Fprintln(s.Err)

	if err := o.checkPrintValue(s, sys, "the login"); err != nil {
		return err
	}
	if dryRun {
		if err := writeRedactedSecret(s.Out, sys.Namespace, ref, auth); err != nil || sys.Secrets.External {
			return err
		}
	} else if sys.Secrets.External {
		return o.toStore(s, sys, ref, "this auth.json ("+secrets.Fingerprint(auth.Content)+")", "To print it for your store's CLI: ocw auth seed --print-value -f FILE", auth.Content)
	}

	st, err := o.store(sys)
	if err != nil {
		return err
	}
	st.DryRun = dryRun
	out, err := st.Apply(cmd.Context(), ref, auth.Content)
	if err != nil {
		return err
	}
	note := secrets.Fingerprint(auth.Content)
	if dryRun {
		note = "server dry run; nothing was written"
	}
	fmt.Fprintf(s.Err, "Secret %s/%s key %s %s (%s)\n", sys.Namespace, ref.Name, ref.Key, out, note)
	if out != secrets.Unchanged && !dryRun {
		restartAdvice(s, sys, o.file)
	}
	return nil
}

// restartAdvice says how the workspaces get a changed Copilot Secret.
func restartAdvice(s Streams, sys *model.System, file string) {
	var auto, manual []string
	for _, w := range sys.Workspaces {
		if w.Reloader {
			auto = append(auto, w.Name)
		} else {
			manual = append(manual, w.Name)
		}
	}
	fmt.Fprintln(s.Err, "Workspaces copy the login onto their volume at start.")
	if len(auto) > 0 {
		fmt.Fprintf(s.Err, "Reloader restarts %s now (if Reloader runs in the cluster).\n", strings.Join(auto, ", "))
	}
	for _, n := range manual {
		fmt.Fprintf(s.Err, "Restart %s to apply it: kubectl -n %s rollout restart deployment/%s (or without a restart: ocw auth push %s -f %s)\n",
			n, sys.Namespace, n, n, file)
	}
}

// writeRedactedSecret prints the Secret auth seed would write, with the
// value replaced by its size and hash: enough to compare, nothing to leak.
func writeRedactedSecret(w io.Writer, namespace string, ref model.SecretRef, auth *secrets.Auth) error {
	obj := map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata": map[string]any{
			"name":      ref.Name,
			"namespace": namespace,
			"labels":    model.SharedLabels(),
		},
		"type": "Opaque",
		"data": map[string]string{ref.Key: "<redacted: " + secrets.Fingerprint(auth.Content) + ">"},
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# ocw auth seed --dry-run: providers %s; data redacted\n", strings.Join(auth.Providers, ", "))
	_, err = w.Write(b)
	return err
}

// authPushOptions binds the flags of opencode.Push's that are flags.
type authPushOptions struct {
	opencode.Push
	kube     *kube.Flags
	from     string
	timeout  time.Duration
	insecure bool
	caFile   string
}

func newAuthPushCmd(s Streams) *cobra.Command {
	o := &authPushOptions{}
	cmd := &cobra.Command{
		Use:   "push WORKSPACE -f FILE [--ca-file PEM] [--port-forward | --url URL [--insecure]]",
		Short: "Send your local Copilot login to a running workspace, without a restart",
		Long: `Send the github-copilot entry of the local auth.json to a running
workspace through OpenCode's API (PUT /auth/github-copilot, then POST
/instance/dispose so OpenCode loads the provider again), then update the
Copilot Secret so the next restart agrees (other providers in the Secret are
kept).

The workspace is reached at its URL (https://<host>/), or through a
port-forward to its pod with --port-forward (no Gateway or DNS needed), or
at --url. The password is read from the server password Secret in the
cluster; the user name is the spec's serverUsername. When a private CA
signed the Gateway's certificate, --ca-file names that CA's certificate
(PEM), trusted in addition to the system's.

When Reloader is enabled, the Secret update restarts the workspace anyway;
--update-secret=false pushes only.

The password and the login go only where you point: redirects are never
followed, and a plain http --url to another machine is refused unless
--insecure is given (http to this machine, e.g. your own port-forward, is
fine).`,
		Example: `  ocw auth push flux -f workspaces.yaml
  ocw auth push flux -f workspaces.yaml --ca-file ./internal-ca.crt
  ocw auth push flux -f workspaces.yaml --port-forward`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeWorkspaces,
		RunE:              func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), s, args[0]) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.SpecFile, "file", "f", "", "spec file")
	f.StringVar(&o.from, "from", "", "auth.json to read (default: $XDG_DATA_HOME/opencode/auth.json or ~/.local/share/opencode/auth.json)")
	f.BoolVar(&o.PortForward, "port-forward", false, "reach the workspace through a port-forward to its pod instead of its URL")
	f.StringVar(&o.URL, "url", "", "reach OpenCode at this URL instead (e.g. http://127.0.0.1:4096/ with your own kubectl port-forward)")
	f.BoolVar(&o.UpdateSecret, "update-secret", true, "also store the login in the Copilot Secret")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long")
	f.BoolVar(&o.insecure, "insecure", false, "accept a plain http --url to another machine (the password and the login travel unencrypted)")
	f.StringVar(&o.caFile, "ca-file", "", "also trust the CA certificates in this PEM file (a Gateway certificate from a private CA)")
	o.kube = bindKube(cmd)
	cmd.MarkFlagsMutuallyExclusive("port-forward", "url")
	return cmd
}

func (o *authPushOptions) run(ctx context.Context, s Streams, name string) error {
	if o.SpecFile == "-" {
		return errors.New("-f - is not possible here: pass the spec as a file")
	}
	// Before anything touches the network: the URL gets the credentials.
	var err error
	if o.Options, err = o.checkURL(s); err != nil {
		return err
	}
	sys, err := loadSystem(s, o.SpecFile)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(sys.Workspaces, func(w model.Workspace) bool { return w.Name == name })
	if i < 0 {
		return fmt.Errorf("no workspace %q in %s", name, o.SpecFile)
	}
	o.System, o.Workspace = sys, sys.Workspaces[i]
	path, auth, err := secrets.ReadAuthFile(o.from, false)
	if err != nil {
		return err
	}
	o.Auth = auth
	if _, err := o.Auth.PushBody(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if o.Clients, err = o.kube.Clients(); err != nil {
		return err
	}
	o.Store = &secrets.Store{Client: o.Clients.Kube, Namespace: sys.Namespace, SpecFile: o.SpecFile}
	o.Progress = s.Err
	return o.Run(ctx)
}

// checkURL refuses a --url that would send the credentials unencrypted
// (unless --insecure) and returns the options for OpenCode's client.
func (o *authPushOptions) checkURL(s Streams) (opencode.Options, error) {
	opts := opencode.Options{PlainHTTP: o.insecure}
	if o.caFile != "" {
		var err error
		if opts.Roots, err = loadRoots(o.caFile); err != nil {
			return opts, err
		}
	}
	if o.URL == "" {
		return opts, nil
	}
	u, err := opencode.CheckURL(o.URL, o.insecure)
	if errors.Is(err, opencode.ErrPlainHTTP) {
		return opts, fmt.Errorf("--url: %w: use https, or pass --insecure to send them anyway", err)
	}
	if err != nil {
		return opts, fmt.Errorf("--url: %w", err)
	}
	if u.Scheme == "http" && o.insecure {
		fmt.Fprintf(s.Err, "warning: --insecure: the password and the login travel to %s unencrypted\n", u.Host)
	}
	return opts, nil
}

// loadRoots is the system's trusted CAs plus those in the PEM file.
func loadRoots(path string) (*x509.CertPool, error) {
	pemData, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", path)
	}
	return roots, nil
}
