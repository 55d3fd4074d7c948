package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/opencode-workspaces/ocw/internal/apply"
	"github.com/opencode-workspaces/ocw/internal/kube"
)

type applyOptions struct {
	apply.Options
	file    string
	kube    *kube.Flags
	dryRun  string
	wait    bool
	timeout time.Duration
}

func newApplyCmd(s Streams) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--context C] [--kubeconfig K] [--dry-run=server] [--wait] [--timeout 5m] [--prune [--purge-data]] [--adopt-namespace]",
		Short: "Apply the workspaces to a cluster directly (server-side apply, no Flux)",
		Long: `Apply the spec's objects to the cluster with server-side apply (field
manager "ocw"): the namespace, the ExternalSecrets (external-secrets modes) and every
workspace's objects, the same objects "ocw render --layout kustomize" writes.
For clusters without Flux, or to try a workspace before committing it.

The whole set is validated with server-side dry runs before anything is
written: a rejected object fails the command, naming it and the field, and
the cluster is left as it was. Only objects that differ are written; a
second apply of an unchanged spec writes nothing. One line per object goes
to stdout: created, configured or unchanged.

ocw records what it applied in the ConfigMap ocw-inventory in the namespace.
Objects listed there that the spec no longer has are reported, and deleted
only with --prune. PersistentVolumeClaims and the namespace hold the
workspaces' data: they are deleted only with --prune --purge-data, after
being listed.

The namespace must be ocw's: created by ocw apply or by Flux from ocw's
rendered tree (it carries the label app.kubernetes.io/managed-by=ocw), or
not exist yet. An existing namespace ocw did not create is refused unless
--adopt-namespace is given: apply enforces Pod Security "restricted" on it.

In manual-secrets mode, apply then checks the three Secrets and says which
command creates any that is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), s) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "spec file (- for stdin)")
	o.kube = bindKube(cmd)
	addDryRunFlag(cmd, &o.dryRun, `"server": validate and report with server-side dry runs, write nothing`)
	f.BoolVar(&o.wait, "wait", false, "wait until the workspaces are ready, showing progress on stderr")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long --wait waits")
	f.BoolVar(&o.Prune, "prune", false, "delete objects ocw applied earlier that the spec no longer has (data is kept)")
	f.BoolVar(&o.PurgeData, "purge-data", false, "with --prune, also delete PersistentVolumeClaims (the workspaces' data)")
	f.BoolVar(&o.AdoptNamespace, "adopt-namespace", false, "take over the spec's namespace although ocw did not create it (enforces Pod Security restricted on it)")
	return cmd
}

func (o *applyOptions) run(ctx context.Context, s Streams) error {
	var err error
	if o.DryRun, err = serverDryRun(o.dryRun); err != nil {
		return err
	}
	if o.PurgeData && !o.Prune {
		return errors.New("--purge-data only works together with --prune")
	}
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	sys, err := loadSystem(s, o.file)
	if err != nil {
		return err
	}
	desired, err := apply.Build(sys)
	if err != nil {
		return err
	}
	for _, n := range desired.Notes {
		fmt.Fprintln(s.Err, "note:", n)
	}
	cfg, err := o.kube.Config()
	if err != nil {
		return err
	}
	eng, err := apply.New(cfg, s.Err)
	if err != nil {
		return err
	}

	// Before any write: a blank server password is refused (the serve
	// script refuses it, an image without that check would serve everyone);
	// a missing Secret only gets a hint below, the normal first-apply flow.
	missing, secretsErr := eng.CheckSecrets(ctx, sys)
	for _, m := range missing {
		if m.Role.Required && m.Empty {
			return fmt.Errorf("Secret %s/%s key %s is empty: the workspaces would run without a login; nothing was applied. Set a password first: ocw secrets password -f %s",
				m.Namespace, m.Ref.Name, m.Ref.Key, o.specName())
		}
	}

	start := time.Now()
	res, applyErr := eng.Apply(ctx, desired, o.Options)
	if res != nil {
		for _, c := range res.Changes {
			fmt.Fprintln(s.Out, c.String())
		}
	}
	if applyErr != nil {
		return applyErr
	}
	o.report(s, res, desired.Namespace, time.Since(start))
	if secretsErr != nil {
		fmt.Fprintf(s.Err, "note: could not check the workspaces' Secrets: %v\n", secretsErr)
	}
	for _, m := range missing {
		fmt.Fprint(s.Err, o.secretHint(m))
	}
	if o.wait {
		if o.DryRun {
			fmt.Fprintln(s.Err, "note: --wait does nothing with --dry-run")
			return nil
		}
		return eng.Wait(ctx, desired, apply.WaitOptions{Timeout: o.timeout, Progress: s.Err})
	}
	return nil
}

// report sums up what apply did, and what it left for the user.
func (o *applyOptions) report(s Streams, res *apply.Result, namespace string, took time.Duration) {
	what := fmt.Sprintf("%d created, %d configured, %d unchanged", res.Count(apply.Created), res.Count(apply.Configured), res.Count(apply.Unchanged))
	if n := res.Count(apply.Pruned); n > 0 {
		what += fmt.Sprintf(", %d pruned", n)
	}
	if o.DryRun {
		fmt.Fprintf(s.Err, "apply (server dry run): %s; nothing was written (%s)\n", what, took.Round(time.Millisecond))
	} else {
		fmt.Fprintf(s.Err, "apply: %s; %d writes (%s)\n", what, res.Writes, took.Round(time.Millisecond))
	}
	if n := res.Count(apply.Refused); n > 0 {
		fmt.Fprintf(s.Err, "warning: %d entries of ConfigMap %s/%s are not objects ocw apply wrote for this namespace: ignored, never deleted (someone who can edit ConfigMaps there changed it)\n",
			n, namespace, apply.InventoryName)
	}
	if n := res.Count(apply.Stale) + res.Count(apply.KeptData); n > 0 {
		hint := "rerun with --prune to delete them (data is kept unless --purge-data is given too)"
		if o.Prune {
			hint = "data is kept: rerun with --prune --purge-data to delete it too"
		}
		fmt.Fprintf(s.Err, "apply: %d object(s) ocw applied earlier are no longer in the spec; %s\n", n, hint)
	}
}

// specName is the spec file as a command line names it in hints.
func (o *applyOptions) specName() string {
	if o.file == "" || o.file == "-" {
		return "FILE"
	}
	return o.file
}

// secretHint says exactly how to create a missing Secret or key. Values
// go through files, never the command line.
func (o *applyOptions) secretHint(m apply.MissingSecret) string {
	r, flags := m.Role, o.kube.Args()
	need := "optional"
	if r.Required {
		need = "required"
	}
	state := fmt.Sprintf("Secret %s/%s is missing", m.Namespace, m.Ref.Name)
	kubectl := fmt.Sprintf("kubectl%s -n %s create secret generic %s --from-file=%s=PATH", flags, m.Namespace, m.Ref.Name, m.Ref.Key)
	if !m.NoSecret {
		state = fmt.Sprintf("Secret %s/%s has no (or an empty) key %s", m.Namespace, m.Ref.Name, m.Ref.Key)
		// create | apply adds the key and keeps the Secret's other keys.
		kubectl += " --dry-run=client -o yaml | kubectl" + flags + " apply -f -"
	}
	return fmt.Sprintf("secret: %s (%s, %s). Create it with:\n  ocw %s -f %s%s\n  or: %s   (PATH: %s)\n",
		state, r.Holds, need, r.Command, o.specName(), flags, kubectl, r.File)
}
