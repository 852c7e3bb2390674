package replay

import "testing"

func TestFileNamesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		rev  int
		path string
	}{{"Create", 3, "parked-retried"}, {"Upgrade", 0, ""}, {"FleetUpgrade", 12, "plain"}} {
		typ, rev, path, ok := ParseName(FileName(tc.typ, tc.rev, tc.path))
		if !ok || typ != tc.typ || rev != tc.rev || path != tc.path {
			t.Errorf("%+v: parsed back as %q %d %q %v", tc, typ, rev, path, ok)
		}
	}
	for _, bad := range []string{"Create.json", "Create.3.json", "Create.r.json", "Create.r-1.json", "Create.r3..json", "Create.r3.a.b.json", ".r3.json"} {
		if _, _, _, ok := ParseName(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
