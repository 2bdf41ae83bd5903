package gwabi

import (
	"strconv"
	"strings"
	"testing"
)

func versionParts(t *testing.T) [3]int {
	t.Helper()
	parts := strings.Split(Version, ".")
	if len(parts) != 3 {
		t.Fatalf("Version %q is not MAJOR.MINOR.PATCH", Version)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("Version %q: %q is not a number", Version, p)
		}
		n[i] = v
	}
	return n
}

// The kit's major version is the ABI version it implements (version.go): a kit that speaks
// ABI 2 under a v1 tag would let `go get` pick it for a module built for ABI 1.
func TestVersionMajorIsTheABIVersion(t *testing.T) {
	if v := versionParts(t); v[0] != ABIVersion {
		t.Errorf("Version %s: major %d, ABIVersion %d", Version, v[0], ABIVersion)
	}
}

// The kit gained the ABI 1.1 helpers (AppendQuantities, AppendMeasurements) in 1.1.0: a module
// that uses them requires at least that version, so a kit that speaks ABI 1.1 under a 1.0.x
// number would let such a module build against a kit without them. Its minor number may grow
// past the ABI's (additions to the Go API alone), never fall behind it.
func TestVersionCarriesTheABIMinor(t *testing.T) {
	if v := versionParts(t); v[1] < ABIMinorVersion {
		t.Errorf("Version %s: minor %d is behind ABIMinorVersion %d", Version, v[1], ABIMinorVersion)
	}
}
