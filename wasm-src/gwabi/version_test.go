package gwabi

import (
	"strconv"
	"strings"
	"testing"
)

// The kit's major version is the ABI version it implements (version.go): a kit that speaks
// ABI 2 under a v1 tag would let `go get` pick it for a module built for ABI 1.
func TestVersionMajorIsTheABIVersion(t *testing.T) {
	parts := strings.Split(Version, ".")
	if len(parts) != 3 {
		t.Fatalf("Version %q is not MAJOR.MINOR.PATCH", Version)
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			t.Fatalf("Version %q: %q is not a number", Version, p)
		}
	}
	if parts[0] != strconv.Itoa(ABIVersion) {
		t.Errorf("Version %s: major %s, ABIVersion %d", Version, parts[0], ABIVersion)
	}
}
