package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/tools/txtar"
)

// TestReadmeExample runs the README's Example as a new user would: in an
// empty directory, exactly the commands of the section's sh blocks, in
// order, with main.go the section's Go block, and checks what the program
// prints. The script is made from README.md each time, so the two cannot
// drift apart. One step is not the README's: as the module is not
// published, go.mod replaces it by this repository right after go mod init.
func TestReadmeExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator and a program: skipped in -short mode")
	}
	if runtime.GOOS == "windows" {
		t.Skip("children need a Unix socketpair")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	commands, mainGo, want := readmeExample(t, string(readme))

	var script strings.Builder
	script.WriteString("# Made by TestReadmeExample from the README's Example section.\n")
	for _, c := range commands {
		script.WriteString("exec " + c + "\n")
		if strings.HasPrefix(c, "go mod init ") {
			script.WriteString("exec go mod edit -replace=github.com/mpgen/mpgen=$MPGEN_ROOT\n")
		}
	}
	for _, line := range want {
		script.WriteString("stdout '^" + regexp.QuoteMeta(line) + "$'\n")
	}
	script.WriteString("exists zz_mpgen.go\n! stderr .\n")
	dir := t.TempDir()
	ar := &txtar.Archive{Comment: []byte(script.String()), Files: []txtar.File{{Name: "main.go", Data: []byte(mainGo)}}}
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), txtar.Format(ar), 0o666); err != nil {
		t.Fatal(err)
	}
	t.Logf("script:\n%s", script.String())

	goEnv := goEnv(t, "GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOTOOLCHAIN")
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Vars = append(env.Vars, goEnv...)
			env.Vars = append(env.Vars, "MPGEN_ROOT="+root)
			// Offline: the module cache has every module the example
			// needs, but neither the proxy nor the checksum database can
			// be asked; online the README's commands use both.
			env.Vars = append(env.Vars, "GOPROXY=off", "GOSUMDB=off")
			return nil
		},
	})
}

// readmeExample returns the commands of the sh blocks of the README's
// Example section, its Go block, and the lines the program prints: the one
// its comment shows, and the same for the second process.
func readmeExample(t *testing.T, readme string) (commands []string, mainGo string, want []string) {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Example\n")
	if !ok {
		t.Fatal("README.md has no Example section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var block, lang string
	in := false
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in, lang, block = true, strings.TrimPrefix(line, "```"), ""
		case in && line == "```":
			in = false
			switch lang {
			case "sh":
				for _, c := range strings.Split(strings.TrimSpace(block), "\n") {
					if c, _, _ = strings.Cut(c, "#"); strings.TrimSpace(c) != "" {
						commands = append(commands, strings.TrimSpace(c))
					}
				}
			case "go":
				if mainGo != "" {
					t.Fatal("the README's Example section has more than one Go block")
				}
				mainGo = block
			}
		case in:
			block += line + "\n"
		}
	}
	if len(commands) == 0 || mainGo == "" {
		t.Fatalf("the README's Example section has commands %q and Go code %q; want both", commands, mainGo)
	}
	m := regexp.MustCompile(`(?m)fmt\.Println\(.*\) // (Process-1 .*)$`).FindStringSubmatch(mainGo)
	if m == nil {
		t.Fatal("the README's example does not show its output in a comment after fmt.Println")
	}
	second := strings.NewReplacer("Process-1", "Process-2", "work_1", "work_2").Replace(m[1])
	return commands, mainGo, []string{m[1], second}
}

// TestReadmeStaleFiles: the README's list of what a stale generated file
// does quotes, for each case, the message that testdata/script/stale.txtar
// makes the program or the build print.
func TestReadmeStaleFiles(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/script/stale.txtar")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(readme), "the program, though, sees a stale file:\n")
	if !ok {
		t.Fatal("README.md does not say what the program does with a stale generated file")
	}
	list, _, _ = strings.Cut(list, "\n\n\n")
	list, _, _ = strings.Cut(strings.TrimLeft(list, "\n"), "\n\n")
	cases := strings.Split(list, "\n- ")
	if len(cases) != 4 {
		t.Fatalf("README.md lists %d cases of stale files, want 4:\n%s", len(cases), list)
	}
	patterns := regexp.MustCompile(`(?m)^(?:! )?(?:stdout|stderr) '(.*)'$`).FindAllStringSubmatch(string(script), -1)
	for _, c := range cases {
		quoted := regexp.MustCompile("`([^`]*)`").FindAllStringSubmatch(c, -1)
		n := 0
		for _, q := range quoted {
			msg := q[1]
			if !strings.ContainsAny(msg, " .") || msg == "go generate" || msg == "zz_mpgen.go" {
				continue // a name, not a message
			}
			n++
			found := false
			for _, p := range patterns {
				if strings.Contains(strings.ReplaceAll(p[1], `\`, ""), msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("README.md quotes %q for a stale file; testdata/script/stale.txtar checks no such message", msg)
			}
		}
		if n == 0 {
			t.Errorf("README.md quotes no message for the case %q", c)
		}
	}
}
