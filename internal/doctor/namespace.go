package doctor

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/secrets"
)

// namespaceChecks: the namespace, the three shared Secrets and, in the
// external-secrets modes, the Flux Kustomization and the ExternalSecrets
// that make them. Secret values are read to check them, never printed.
func (r *run) namespaceChecks(ctx context.Context) {
	ns := r.sys.Namespace
	nsCtx, cancel := r.bounded(ctx)
	_, err := r.c.Kube.CoreV1().Namespaces().Get(nsCtx, ns, metav1.GetOptions{})
	cancel()
	switch {
	case apierrors.IsNotFound(err):
		r.add(ScopeNamespace, "namespace", Fail, "namespace "+ns+" does not exist",
			"apply the workspaces (ocw apply -f "+r.opts.SpecFile+", or commit the rendered tree and let Flux reconcile)")
	case err != nil:
		r.add(ScopeNamespace, "namespace", Warn, fmt.Sprintf("cannot read namespace %s: %v", ns, err), "")
	default:
		r.add(ScopeNamespace, "namespace", OK, "namespace "+ns+" exists", "")
	}
	r.fluxNamespaceChecks(ctx)

	for _, name := range []string{secrets.RoleServer, secrets.RoleGit, secrets.RoleCopilot} {
		r.checkSecret(secrets.RoleNamed(name))
	}
	s := r.sys.Secrets
	if s.External {
		r.checkExternalSecret(ctx, "externalsecret-git", s.Git)
		r.checkExternalSecret(ctx, "externalsecret-server", s.Server)
		r.checkExternalSecret(ctx, "externalsecret-copilot", s.Copilot)
	}
}

// checkSecret verifies that the role's Secret has a non-empty value under
// its key (and, for the Copilot Secret, a valid auth.json); when it does
// not, the verdict is Fail for a required Secret, else Warn.
func (r *run) checkSecret(role secrets.Role) {
	id, ref, missing := "secret-"+role.Name, role.Ref(r.sys.Secrets), Warn
	if role.Required {
		missing = Fail
	}
	fix := "ocw " + role.Command + " -f " + r.opts.SpecFile
	if role.Reads != "" {
		fix += " (" + role.Reads + ")"
	}
	if r.sys.Secrets.External {
		fix = fmt.Sprintf("set %s in %s; ExternalSecret %s copies it into the Secret (see the externalsecret checks)", ref.Remote(), r.sys.Secrets.Store(), ref.Name)
	}
	empty := role.Empty
	if empty == "" {
		empty = role.Absent
	}
	read := r.secrets[ref.Name]
	sec, err := read.secret, read.err
	switch {
	case apierrors.IsNotFound(err) || err == nil && sec == nil:
		r.add(ScopeNamespace, id, missing, fmt.Sprintf("Secret %s does not exist: %s", ref.Name, role.Absent), fix)
		return
	case err != nil:
		r.add(ScopeNamespace, id, Warn, fmt.Sprintf("cannot read Secret %s: %v", ref.Name, err), "run doctor with permission to read Secrets in "+r.sys.Namespace)
		return
	}
	v, ok := sec.Data[ref.Key]
	switch {
	case !ok:
		r.add(ScopeNamespace, id, missing, fmt.Sprintf("%s is missing: %s", ref.Hint(), role.Absent), fix)
		return
	case len(strings.TrimSpace(string(v))) == 0:
		r.add(ScopeNamespace, id, missing, fmt.Sprintf("%s is empty: %s", ref.Hint(), empty), fix)
		return
	}
	if ref == r.sys.Secrets.Copilot {
		if _, err := secrets.ParseAuth(v, true); err != nil {
			// ParseAuth's messages never quote the content.
			r.add(ScopeNamespace, id, Fail, fmt.Sprintf("%s is not a usable auth.json: %v", ref.Hint(), err), fix)
			return
		}
	}
	r.add(ScopeNamespace, id, OK, ref.Hint()+" is set", "")
}

// checkExternalSecret checks that the ExternalSecret making ref exists and
// is Ready (synced from the store).
func (r *run) checkExternalSecret(ctx context.Context, id string, ref model.SecretRef) {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	u, err := r.c.Dynamic.Resource(externalSecretGVR).Namespace(r.sys.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		r.add(ScopeNamespace, id, Fail, "ExternalSecret "+ref.Name+" not found",
			"apply the workspaces (ocw apply -f "+r.opts.SpecFile+" or Flux); the ExternalSecrets are part of the namespace's objects")
		return
	case err != nil:
		r.add(ScopeNamespace, id, Warn, fmt.Sprintf("cannot read ExternalSecret %s: %v", ref.Name, err), "check that external-secrets is installed")
		return
	}
	st, reason, msg, ok := condition(u, "Ready")
	switch {
	case !ok:
		r.add(ScopeNamespace, id, Warn, "ExternalSecret "+ref.Name+" has not been synced yet (no Ready condition)",
			"check that the external-secrets controller runs")
	case st != "True":
		r.add(ScopeNamespace, id, Fail, fmt.Sprintf("ExternalSecret %s is not Ready: %s: %s", ref.Name, reason, msg),
			fmt.Sprintf("check that %s exists in the store %s and that the store is Ready", ref.Remote(), r.sys.Secrets.Store()))
	default:
		r.add(ScopeNamespace, id, OK, "ExternalSecret "+ref.Name+" is synced (Ready)", "")
	}
}
