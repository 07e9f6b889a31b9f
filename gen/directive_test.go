package gen

import "testing"

func TestParseDirective(t *testing.T) {
	const (
		space   = "a space after // makes this a plain comment, not a directive; write //mp:target, with no space"
		unknown = "; mpgen's only directive is //mp:target"
	)
	tests := []struct {
		text    string
		ok      bool
		name    string
		problem string
	}{
		{text: "//mp:target", ok: true},
		{text: "//mp:target resize", ok: true, name: "resize"},
		{text: "//mp:target example.com/img.Resize-v2_x", ok: true, name: "example.com/img.Resize-v2_x"},
		{text: "//mp:target\tresize", ok: true, name: "resize"},
		{text: "//mp:target a b", ok: true, problem: `//mp:target takes at most one target name, not "a b"; write //mp:target NAME`},
		{text: "//mp:target a,b", ok: true, problem: `invalid target name "a,b": a name holds only letters, digits and _ . / -`},
		{text: "// mp:target", ok: true, problem: space},
		{text: "//  mp:target x", ok: true, problem: space},
		{text: "//mp:targets", ok: true, problem: "unknown directive //mp:targets" + unknown},
		{text: "//mp:taget x", ok: true, problem: "unknown directive //mp:taget" + unknown},
		{text: "//mp:", ok: true, problem: "unknown directive //mp:" + unknown},
		{text: "// a plain comment", ok: false},
		{text: "// mp: the abbreviation", ok: false},
		{text: "//go:generate mpgen", ok: false},
		{text: "/* mp:target */", ok: false},
		{text: "//xmp:target", ok: false},
	}
	for _, tt := range tests {
		name, problem, ok := parseDirective(tt.text)
		if ok != tt.ok || name != tt.name || problem != tt.problem {
			t.Errorf("parseDirective(%q) = %q, %q, %v; want %q, %q, %v", tt.text, name, problem, ok, tt.name, tt.problem, tt.ok)
		}
	}
}
