package proc

import (
	"bytes"
	"strings"
	"testing"
)

func TestLabeler(t *testing.T) {
	long := strings.Repeat("a", MaxLine)
	for _, tc := range []struct {
		name   string
		mode   PrefixMode
		writes []string
		want   string
	}{
		{"lines", PrefixLines, []string{"a\nb\n"}, "P-1[7] | a\nP-1[7] | b\n"},
		{"pieces joined", PrefixLines, []string{"a", "b", "c\nd"}, "P-1[7] | abc\nP-1[7] | d\n"},
		{"empty line", PrefixLines, []string{"\n"}, "P-1[7] | \n"},
		{"exactly MaxLine", PrefixLines, []string{long + "\n"}, "P-1[7] | " + long + "\n"},
		{"MaxLine in pieces", PrefixLines, []string{long[:10], long[10:] + "\n"}, "P-1[7] | " + long + "\n"},
		{"one over MaxLine", PrefixLines, []string{long + "b\n"}, "P-1[7] | " + long + "\nP-1[7] + b\n"},
		{"one over, in pieces", PrefixLines, []string{long, "b", "c\n"}, "P-1[7] | " + long + "\nP-1[7] + bc\n"},
		{"JSON kept", PrefixKeepJSON, []string{"{\"a\":1}\nx\n"}, "{\"a\":1}\nP-1[7] | x\n"},
		{"JSON labelled", PrefixLines, []string{"{}\n"}, "P-1[7] | {}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			l := newLabeler(&out, &Labeled{Name: "P-1", Mode: tc.mode}, 7)
			for _, w := range tc.writes {
				if err := l.write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.flush(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tc.want {
				t.Errorf("got %.200q, want %.200q", got, tc.want)
			}
		})
	}
}
