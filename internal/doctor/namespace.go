package doctor

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opencode-workspaces/ocw/internal/model"
	"github.com/opencode-workspaces/ocw/internal/secrets"
)

// namespaceChecks: the namespace, the shared Secrets (values are checked,
// never printed) and, with external-secrets, what makes them.
func (r *run) namespaceChecks(ctx context.Context) {
	ns := r.sys.Namespace
	nsCtx, cancel := r.bounded(ctx)
	_, err := r.c.Kube.CoreV1().Namespaces().Get(nsCtx, ns, metav1.GetOptions{})
	cancel()
	c := ok("namespace " + ns + " exists")
	switch {
	case apierrors.IsNotFound(err):
		c = fail("namespace "+ns+" does not exist",
			"apply the workspaces (ocw apply -f "+r.opts.SpecFile+", or commit the rendered tree and let Flux reconcile)")
	case err != nil:
		c = warn(fmt.Sprintf("cannot read namespace %s: %v", ns, err), "")
	}
	r.add(ScopeNamespace, "namespace", c)
	r.fluxNamespaceChecks(ctx)

	for _, name := range []string{secrets.RoleServer, secrets.RoleGit, secrets.RoleCopilot} {
		r.add(ScopeNamespace, "secret-"+name, r.checkSecret(secrets.RoleNamed(name)))
	}
	if r.sys.Secrets.External {
		for _, role := range secrets.Roles() {
			r.add(ScopeNamespace, "externalsecret-"+role.Name, r.checkExternalSecret(ctx, role.Ref(r.sys.Secrets)))
		}
	}
}

// checkSecret: the role's Secret has a value under its key (for Copilot, a
// valid auth.json); a required Secret without one fails, the others warn.
func (r *run) checkSecret(role secrets.Role) Check {
	ref, missing := role.Ref(r.sys.Secrets), Warn
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
	read := r.secrets[ref.Name]
	sec, err := read.secret, read.err
	switch {
	case apierrors.IsNotFound(err) || err == nil && sec == nil:
		return Check{Verdict: missing, Message: fmt.Sprintf("Secret %s does not exist: %s", ref.Name, role.Absent), Fix: fix}
	case err != nil:
		return warn(fmt.Sprintf("cannot read Secret %s: %v", ref.Name, err), "run doctor with permission to read Secrets in "+r.sys.Namespace)
	}
	v, found := sec.Data[ref.Key]
	switch {
	case !found:
		return Check{Verdict: missing, Message: fmt.Sprintf("%s is missing: %s", ref.Hint(), role.Absent), Fix: fix}
	case len(strings.TrimSpace(string(v))) == 0:
		return Check{Verdict: missing, Message: fmt.Sprintf("%s is empty: %s", ref.Hint(), cmp.Or(role.Empty, role.Absent)), Fix: fix}
	}
	if ref == r.sys.Secrets.Copilot {
		if _, err := secrets.ParseAuth(v, true); err != nil {
			// ParseAuth's messages never quote the content.
			return fail(fmt.Sprintf("%s is not a usable auth.json: %v", ref.Hint(), err), fix)
		}
	}
	return ok(ref.Hint() + " is set")
}

func (r *run) checkExternalSecret(ctx context.Context, ref model.SecretRef) Check {
	ctx, cancel := r.bounded(ctx)
	defer cancel()
	u, err := r.c.Dynamic.Resource(externalSecretGVR).Namespace(r.sys.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fail("ExternalSecret "+ref.Name+" not found",
			"apply the workspaces (ocw apply -f "+r.opts.SpecFile+" or Flux); the ExternalSecrets are part of the namespace's objects")
	case err != nil:
		return warn(fmt.Sprintf("cannot read ExternalSecret %s: %v", ref.Name, err), "check that external-secrets is installed")
	}
	return checkReady("ExternalSecret "+ref.Name, u, " has not been synced yet (no Ready condition)", " is synced (Ready)",
		fmt.Sprintf("check that %s exists in the store %s and that the store is Ready", ref.Remote(), r.sys.Secrets.Store()))
}
