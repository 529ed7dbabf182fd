//go:build !linux

package interop

import "os/exec"

// dieWithParent needs Linux's parent-death signal; elsewhere the cleanup
// of each test kills its processes.
func dieWithParent(*exec.Cmd) {}
