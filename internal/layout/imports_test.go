package layout_test

import (
	gobuild "go/build"
	"strings"
	"testing"
)

// The pipeline reads spec → model → build → layout → output: layout
// arranges objects, output alone turns them into bytes.
func TestLayoutDoesNotImportOutput(t *testing.T) {
	pkg, err := gobuild.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasSuffix(imp, "/internal/output") {
			t.Errorf("layout imports %s", imp)
		}
	}
}
