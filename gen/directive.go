package gen

import (
	"regexp"
	"strings"
)

// namePattern is what a target name given to //mp:target may hold.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_./-]+$`)

// parseDirective reads one comment (its full text, with the // marker) and
// says whether it is meant as an mpgen directive. If it is, name is the
// target name it gives ("" for none), and problem, when not empty, says
// what is wrong with the line and how to write it.
func parseDirective(text string) (name, problem string, ok bool) {
	body, isLine := strings.CutPrefix(text, "//")
	if !isLine {
		return "", "", false
	}
	rest, isDirective := strings.CutPrefix(body, "mp:")
	if !isDirective {
		trimmed := strings.TrimLeft(body, " \t")
		if spaced, ok := strings.CutPrefix(trimmed, "mp:"); ok && trimmed != body && spaced != "" && isLetter(spaced[0]) {
			return "", "a space after // makes this a plain comment, not a directive; write //mp:target, with no space", true
		}
		return "", "", false
	}
	v := verb(rest)
	if v != "target" {
		return "", "unknown directive //mp:" + v + "; mpgen's only directive is //mp:target", true
	}
	args := strings.Fields(rest[len(v):])
	switch {
	case len(args) == 0:
		return "", "", true
	case len(args) > 1:
		return "", "//mp:target takes at most one target name, not " + quoteWords(args) + "; write //mp:target NAME", true
	case !namePattern.MatchString(args[0]):
		return "", "invalid target name " + quoteWords(args) + ": a name holds only letters, digits and _ . / -", true
	}
	return args[0], "", true
}

// verb returns the directive word at the start of s: up to the first space.
func verb(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

func quoteWords(words []string) string {
	return `"` + strings.Join(words, " ") + `"`
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
