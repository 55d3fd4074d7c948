package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/opencode-workspaces/ocw/internal/kube"
	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/secrets"
)

// defaultTokenEnv is read when set and --from-env is not given.
const defaultTokenEnv = "OCW_GIT_TOKEN"

// secretFlags are shared by the commands that write Secrets.
type secretFlags struct {
	file       string
	kube       *kube.Flags
	printValue bool
	force      bool
}

func (f *secretFlags) add(cmd *cobra.Command, printValueHelp string) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "spec file (namespace, Secret names and secrets mode)")
	cmd.Flags().BoolVar(&f.printValue, "print-value", false, printValueHelp+" (refused when stdout is a terminal)")
	cmd.Flags().BoolVar(&f.force, "force", false, "with --print-value: print the secret even when stdout is a terminal")
	f.kube = bindKube(cmd)
}

// load reads the spec; the spec cannot come from stdin when stdin may
// carry a secret.
func (f *secretFlags) load(s Streams) (*model.System, error) {
	if f.file == "-" {
		return nil, errors.New("-f - is not possible here: stdin carries the secret; pass the spec as a file")
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return loadSystem(s, f.file)
}

// check rejects flag combinations that would do nothing.
func (f *secretFlags) check() error {
	if f.force && !f.printValue {
		return errors.New("--force only works together with --print-value")
	}
	return nil
}

// checkPrintValue refuses --print-value in manual mode, where what (the
// token, the password, the login) goes into the Secret, and onto a
// terminal, where it would stay in the scrollback and on the screen,
// unless --force says so: the value is meant for a pipe.
func (f *secretFlags) checkPrintValue(s Streams, sys *model.System, what string) error {
	switch {
	case !f.printValue:
	case !sys.Secrets.External:
		return fmt.Errorf("--print-value is for secrets.mode external-secrets or doppler; in manual mode %s goes into the Secret", what)
	case !f.force && isTerminal(s.Out):
		return errors.New("refusing to print a secret to a terminal: --print-value is for a pipe (ocw ... --print-value | doppler secrets set KEY); add --force to print it here anyway")
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

func (f *secretFlags) store(sys *model.System) (*secrets.Store, error) {
	c, err := f.kube.Clients()
	if err != nil {
		return nil, err
	}
	return &secrets.Store{Client: c.Kube, Namespace: sys.Namespace, SpecFile: f.file}, nil
}

func newSecretsCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Create the namespace's shared Secrets: git token and server password",
		Long: `Create or update the Secrets every workspace in the namespace shares.

Secret values are never taken from flags (they would show in the process
list and shell history) and never printed, except the generated server
password, which ocw secrets password prints once.

With secrets.mode external-secrets (or doppler) in the spec, ocw writes no
Secrets: the ExternalSecrets make them from the store. The commands then
say which key of the store to set.`,
	}
	cmd.AddCommand(newSecretsGitTokenCmd(s), newSecretsPasswordCmd(s))
	return cmd
}

type gitTokenOptions struct {
	secretFlags
	fromEnv string
}

func newSecretsGitTokenCmd(s Streams) *cobra.Command {
	o := &gitTokenOptions{}
	cmd := &cobra.Command{
		Use:   "git-token -f FILE [--from-env VAR]",
		Short: "Store the git token (PAT) the workspaces clone, pull and push with",
		Long: `Store the git token in the git credentials Secret (default
opencode-git-credentials, key GITHUB_PAT) with server-side apply.

The token is read from the environment variable named by --from-env, else
from $` + defaultTokenEnv + ` when set, else from stdin (hidden when stdin is a
terminal). Running it again with the same token writes nothing.

Running workspaces use a new token at their next git operation: the
credential helper reads the mounted Secret each time (the kubelet refreshes
it within about a minute), so no restart is needed.`,
		Example: `  ocw secrets git-token -f workspaces.yaml            # paste the token, Enter
  gh auth token | ocw secrets git-token -f workspaces.yaml
  ocw secrets git-token -f workspaces.yaml --from-env GITHUB_TOKEN`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, s) },
	}
	o.add(cmd, "external-secrets modes: print the token read from stdin/env to stdout, for piping into your store's CLI")
	cmd.Flags().StringVar(&o.fromEnv, "from-env", "", "read the token from this environment variable (default: $"+defaultTokenEnv+" when set, else stdin)")
	return cmd
}

func (o *gitTokenOptions) run(cmd *cobra.Command, s Streams) error {
	sys, err := o.load(s)
	if err != nil {
		return err
	}
	ref := sys.Secrets.Git
	if sys.Secrets.External && !o.printValue {
		return o.toStore(s, sys, ref, "the git token (PAT)", "", nil)
	}
	if err := o.checkPrintValue(s, sys, "the token"); err != nil {
		return err
	}
	token, err := readSecretInput(s, o.fromEnv, defaultTokenEnv, "git token")
	if err != nil {
		return err
	}
	token, err = secrets.CleanToken(token)
	if err != nil {
		return err
	}
	if o.printValue {
		return o.toStore(s, sys, ref, "", "", []byte(token))
	}
	st, err := o.store(sys)
	if err != nil {
		return err
	}
	out, err := st.Apply(cmd.Context(), ref, []byte(token))
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "Secret %s/%s key %s %s\n", sys.Namespace, ref.Name, ref.Key, out)
	if out != secrets.Unchanged {
		fmt.Fprintln(s.Err, "Running workspaces use it at their next git operation (no restart needed); a failed clone retries at the next restart.")
	}
	return nil
}

// readSecretInput reads a secret from the environment variable named by
// fromEnv, else from defaultEnv when set, else from stdin.
func readSecretInput(s Streams, fromEnv, defaultEnv, what string) (string, error) {
	if fromEnv != "" {
		v := os.Getenv(fromEnv)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is unset or empty", fromEnv)
		}
		return v, nil
	}
	if v := os.Getenv(defaultEnv); v != "" {
		fmt.Fprintf(s.Err, "reading the %s from $%s\n", what, defaultEnv)
		return v, nil
	}
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(s.Err, "Paste the %s and press Enter (input is hidden): ", what)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.Err)
		if err != nil {
			return "", fmt.Errorf("reading the %s from the terminal: %w", what, err)
		}
		return string(b), nil
	}
	// One line is enough; more means something else was piped in.
	data, err := io.ReadAll(io.LimitReader(s.In, 64<<10))
	if err != nil {
		return "", fmt.Errorf("reading the %s from stdin: %w", what, err)
	}
	v := strings.TrimRight(string(data), "\r\n")
	if strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("stdin holds more than one line; pipe only the %s", what)
	}
	if v == "" {
		return "", fmt.Errorf("no %s on stdin (pipe it in, or use --from-env VAR)", what)
	}
	return v, nil
}

// toStore ends a secret command when ExternalSecrets make the Secrets and
// ocw writes none: --print-value prints value for the store's CLI, else the
// user learns where what goes (and how, when set).
func (f *secretFlags) toStore(s Streams, sys *model.System, ref model.SecretRef, what, how string, value []byte) error {
	if f.printValue {
		_, err := s.Out.Write(value)
		return err
	}
	fmt.Fprintf(s.Err, "The Secrets come from %s through ExternalSecrets: ocw writes none.\n", sys.Secrets.Store())
	fmt.Fprintf(s.Err, "Put %s in %s under %s.\n", what, sys.Secrets.Store(), ref.Remote())
	fmt.Fprintf(s.Err, "ExternalSecret %s/%s (store %s) copies it into Secret %s key %s.\n",
		sys.Namespace, ref.Name, sys.Secrets.Store(), ref.Name, ref.Key)
	if how != "" {
		fmt.Fprintln(s.Err, how)
	}
	return nil
}

type passwordOptions struct {
	secretFlags
	show, rotate bool
}

func newSecretsPasswordCmd(s Streams) *cobra.Command {
	o := &passwordOptions{}
	cmd := &cobra.Command{
		Use:   "password -f FILE [--show | --rotate]",
		Short: "Create the OpenCode server password (once), show it, or rotate it",
		Long: `Create the server password Secret (default opencode-server-auth, key
OPENCODE_SERVER_PASSWORD) with 256 random bits (43 URL-safe characters), only
if it does not exist yet, and print the password once on stdout. Keep it in
your password manager: the browser asks for it (user name: the spec's
serverUsername, default opencode).

--show prints the stored password again. --rotate replaces it; OpenCode reads
it at start, so workspaces need a restart (Reloader does that when enabled).`,
		Example: `  ocw secrets password -f workspaces.yaml
  ocw secrets password -f workspaces.yaml --show
  ocw secrets password -f workspaces.yaml --rotate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, s) },
	}
	o.add(cmd, "external-secrets modes: generate a password and print it to stdout, for piping into your store's CLI")
	cmd.Flags().BoolVar(&o.show, "show", false, "print the stored password")
	cmd.Flags().BoolVar(&o.rotate, "rotate", false, "replace the stored password with a new one and print it")
	cmd.MarkFlagsMutuallyExclusive("show", "rotate", "print-value")
	return cmd
}

func (o *passwordOptions) run(cmd *cobra.Command, s Streams) error {
	sys, err := o.load(s)
	if err != nil {
		return err
	}
	ref := sys.Secrets.Server
	ctx := cmd.Context()
	if err := o.checkPrintValue(s, sys, "the password"); err != nil {
		return err
	}
	// The new password of every mode but --show (which ignores it).
	pw, err := secrets.NewPassword()
	if err != nil {
		return err
	}
	if sys.Secrets.External && !o.show {
		if o.rotate {
			return fmt.Errorf("the Secrets come from %s: rotate the password there (%s); ocw secrets password --print-value -f FILE generates one", sys.Secrets.Store(), ref.Remote())
		}
		return o.toStore(s, sys, ref, "the server password", "To generate one: ocw secrets password --print-value -f FILE", []byte(pw))
	}
	st, err := o.store(sys)
	if err != nil {
		return err
	}
	name, msg := fmt.Sprintf("Secret %s/%s key %s", sys.Namespace, ref.Name, ref.Key), ""
	switch {
	case o.show:
		v, err := st.Get(ctx, ref)
		if err != nil {
			return err
		}
		if len(v) == 0 {
			return fmt.Errorf("%s is not set: ocw secrets password -f FILE creates it", ref.Hint())
		}
		pw = string(v)
	case o.rotate:
		if _, err := st.Apply(ctx, ref, []byte(pw)); err != nil {
			return err
		}
		msg = "rotated. OpenCode reads the password at start: restart the workspaces (Reloader does it when enabled)."
	default:
		created, err := st.CreateOnly(ctx, ref, []byte(pw))
		if err != nil {
			return err
		}
		if !created {
			fmt.Fprintf(s.Err, "%s already holds a password; nothing changed (--show prints it, --rotate replaces it)\n", name)
			return nil
		}
		msg = "created. This is the only time it is printed unasked: store it in your password manager (--show prints it again)."
	}
	fmt.Fprintln(s.Out, pw)
	if msg != "" {
		fmt.Fprintln(s.Err, name, msg)
	}
	return nil
}
