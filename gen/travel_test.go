package gen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"testing"
)

// typeCheck type-checks src as package path, which imports only deps.
func typeCheck(t *testing.T, path, src string, deps ...*types.Package) *types.Package {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path+".go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: importerFunc(func(p string) (*types.Package, error) {
		for _, d := range deps {
			if d.Path() == p {
				return d, nil
			}
		}
		return nil, fmt.Errorf("unexpected import %q", p)
	})}
	pkg, err := conf.Check(path, fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

func TestTravel(t *testing.T) {
	other := typeCheck(t, "example.com/other", `package other
type hidden struct{ N int }
type Hidden = hidden
type Open struct{ N int }
`)
	pkg := typeCheck(t, "example.com/main", `package main

import "example.com/other"

type (
	Plain struct{ A int; B []string; C map[string]*Plain }
	Secret struct{ A int; b int }
	Codec struct{ b int }   // encodes itself with gob's interface
	Half struct{ b int }    // encodes, but cannot decode
	Text struct{ b int }    // encoding.TextMarshaler pair
	Empty struct{}
	Padded struct{ A int; _ [4]byte }
	List[T any] struct{ Items []T }
	Iface interface{ M() }
	Alias = other.Hidden
)

func (*Codec) GobDecode([]byte) error { return nil }
func (Codec) GobEncode() ([]byte, error) { return nil, nil }
func (Half) GobEncode() ([]byte, error) { return nil, nil }
func (Text) MarshalText() ([]byte, error) { return nil, nil }
func (*Text) UnmarshalText([]byte) error { return nil }

var (
	plain Plain
	secret Secret
	codec Codec
	half Half
	text Text
	empty Empty
	padded Padded
	list List[other.Open]
	iface Iface
	alias Alias
	open other.Open
	nested map[string][2]chan<- int
)
`, other)
	tests := []struct {
		v    string
		want string // explanation for "parameter x", "" when it travels
	}{
		{"plain", ""},
		{"codec", ""},
		{"text", ""},
		{"padded", ""},
		{"list", ""},
		{"open", ""},
		{"alias", ""}, // spelled other.Hidden, an exported alias
		{"secret", "parameter x has type Secret: field Secret.b is unexported, so it would not reach the child process; export it, or implement gob.GobEncoder and gob.GobDecoder on Secret"},
		{"half", "parameter x has type Half: field Half.b is unexported, so it would not reach the child process; export it, or implement gob.GobEncoder and gob.GobDecoder on Half"},
		{"empty", "parameter x has type Empty, which has no exported fields, so none of it would reach the child process; export a field, or implement gob.GobEncoder and gob.GobDecoder on it"},
		{"iface", "parameter x has type Iface, which cannot be sent to a child process, as mpgen cannot know the dynamic type it holds; use a concrete type instead"},
		{"nested", "parameter x has type map[string][2]chan<- int: chan<- int cannot be sent to a child process; pass the values it carries instead"},
	}
	tr := newTraveler(pkg)
	for _, tt := range tests {
		typ := pkg.Scope().Lookup(tt.v).Type()
		got := ""
		if f := tr.value(typ); f != nil {
			got = f.about("parameter x", typ, tr.q)
		}
		if got != tt.want {
			t.Errorf("%s (%s):\n got %q\nwant %q", tt.v, typ, got, tt.want)
		}
	}

	// A type that no exported name spells: what code in another package
	// sees when aliases are expanded (GODEBUG=gotypesalias=0).
	hidden := types.Unalias(other.Scope().Lookup("Hidden").Type())
	want := "parameter x has type other.hidden, which is not exported by package other, so the generated code cannot name it; use an exported type instead"
	if f := tr.value(hidden); f == nil || f.about("parameter x", hidden, tr.q) != want {
		t.Errorf("other.hidden: got %v, want %q", f, want)
	}
}
