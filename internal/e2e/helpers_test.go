package e2e

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
)

// goEnv returns NAME=value for the go command's settings, so the scripts
// share this machine's module and build caches (and work offline).
func goEnv(t *testing.T, names ...string) []string {
	out, err := exec.Command("go", append([]string{"env"}, names...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var vars []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for i := 0; sc.Scan() && i < len(names); i++ {
		if v := sc.Text(); v != "" {
			vars = append(vars, names[i]+"="+v)
		}
	}
	return vars
}
