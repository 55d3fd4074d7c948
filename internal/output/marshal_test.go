package output

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Scripts stay literal blocks, so a rendered Deployment reads like the
// script file it came from, and quoting keeps YAML 1.1 words strings.
func TestMarshalStyle(t *testing.T) {
	script := "#!/bin/sh\nset -eu\necho \"$HOME\"\n"
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "boot"},
		Data:       map[string]string{"clone.sh": script, "enabled": "yes", "port": "4096"},
	}
	out, err := marshal("", cm)
	if err != nil {
		t.Fatal(err)
	}
	want := "apiVersion: v1\ndata:\n  clone.sh: |\n    #!/bin/sh\n    set -eu\n    echo \"$HOME\"\n" +
		"  enabled: \"yes\"\n  port: \"4096\"\nkind: ConfigMap\nmetadata:\n  name: boot\n"
	if string(out) != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	var back corev1.ConfigMap
	if err := yaml.UnmarshalStrict(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Data["clone.sh"] != script || back.Data["enabled"] != "yes" || back.Data["port"] != "4096" {
		t.Fatalf("read back %q", back.Data)
	}
	if strings.Contains(string(out), "creationTimestamp") {
		t.Fatal("creationTimestamp rendered")
	}
}
