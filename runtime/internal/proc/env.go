package proc

import "strings"

// withEnv is this process's environment with extra added: a variable of
// extra replaces one of the same name (a child looks variables up by the
// first of a name, so a stale one inherited from further up would win).
func withEnv(base, extra []string) []string {
	env := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !hasVar(extra, name) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if n, _, _ := strings.Cut(kv, "="); n == name {
			return true
		}
	}
	return false
}
