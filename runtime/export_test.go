package mp

// StartChildrenFrom makes the children started from now on run the image
// exe (a copy of the test binary) instead of the program's own, until the
// returned function restores the default. Tests set it only while no other
// child starts.
func StartChildrenFrom(exe string) (restore func()) {
	childExe = exe
	return func() { childExe = "" }
}
