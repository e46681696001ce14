//go:build !unix

package steps

import "os/exec"

// Without process groups only the generator process itself is killed on
// timeout (exec.CommandContext's default).
func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(*exec.Cmd) {}
