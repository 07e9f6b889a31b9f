package mp

import (
	"reflect"
	"testing"
	"time"
)

type myInt int16

type plainStruct struct {
	S string
	I int
	F float64
	B bool
	D time.Duration
}

type taggedStruct struct {
	N int `json:"n"`
}

type hiddenStruct struct {
	N int
	h int
}

type nestedStruct struct{ P plainStruct }
type myStrings []string

// Every basic kind and slice of one round-trips through the basic form,
// and a value refuses to land in a variable of another kind.
func TestFastValuesRoundTrip(t *testing.T) {
	for _, v := range []any{
		true, false, "", "héllo\x00", 0, -1, 1 << 62, int8(-128), int16(300), int32(-7), int64(-1 << 63),
		uint(7), uint16(65535), uint32(1 << 31), uint64(1<<64 - 1), float32(1.5), 3.141592653589793, myInt(-5),
		time.Duration(-90 * time.Second),
		[]int{}, []int{1, -2, 3 << 40}, []int64{-1, 0, 1}, []float64{0.1, -0, 1e300}, []string{"a", "", "ç"},
		[]bool{true, false}, []uint16{1, 65535}, []float32{2.5}, myStrings{"x", "y"}, []myInt{1, -1},
		[2]int{-1, 1 << 40}, [3]string{"a", "", "b"}, plainStruct{S: "s", I: -3, F: 0.5, B: true, D: time.Second},
	} {
		rv := reflect.ValueOf(v)
		if !fastKind(rv.Type()) {
			t.Fatalf("%T is not a basic form type", v)
		}
		data := encodeFast(rv)
		out := reflect.New(rv.Type())
		if err := decodeFast(data, out.Interface()); err != nil {
			t.Fatalf("%T %v: %v", v, v, err)
		}
		if !reflect.DeepEqual(out.Elem().Interface(), v) {
			t.Fatalf("round trip of %T: %v became %v", v, v, out.Elem().Interface())
		}
	}
	var s string
	if err := decodeFast(encodeFast(reflect.ValueOf(3)), &s); err == nil {
		t.Fatal("an int decoded into a string")
	}
	// A struct or array refuses to land in one of another shape.
	var other struct{ S string }
	if err := decodeFast(encodeFast(reflect.ValueOf(plainStruct{})), &other); err == nil {
		t.Fatal("a 5-field struct decoded into a 1-field one")
	}
	var arr [3]int
	if err := decodeFast(encodeFast(reflect.ValueOf([2]int{})), &arr); err == nil {
		t.Fatal("a [2]int decoded into a [3]int")
	}
	var small int8
	if err := decodeFast(encodeFast(reflect.ValueOf(300)), &small); err == nil {
		t.Fatal("300 decoded into an int8")
	}
	for _, bad := range [][]byte{{}, {byte(reflect.Int)}, {fastSlice | byte(reflect.Int), 200}, {byte(reflect.String), 5, 'a'}} {
		var x int
		var xs []int
		var str string
		_ = decodeFast(bad, &x)
		_ = decodeFast(bad, &xs)
		_ = decodeFast(bad, &str) // no panic is the point
	}
	for _, typ := range []any{[]byte(nil), struct{}{}, map[int]int{}, new(int), []any{}, [0]int{}, [2][]int{},
		taggedStruct{}, hiddenStruct{}, nestedStruct{}, time.Time{}, [2]time.Time{}} {
		if fastKind(reflect.TypeOf(typ)) {
			t.Fatalf("%T should not use the basic form", typ)
		}
	}
}

func FuzzDecodeFast(f *testing.F) {
	f.Add(encodeFast(reflect.ValueOf([]int{1, 2, 3})))
	f.Add(encodeFast(reflect.ValueOf("abc")))
	f.Add(encodeFast(reflect.ValueOf(plainStruct{S: "x", I: 1})))
	f.Add(encodeFast(reflect.ValueOf([2]int{3, 4})))
	f.Add(encodeFast(reflect.ValueOf([]float64{1})))
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			i  int
			u8 uint8
			s  string
			f  float32
			is []int
			fs []float64
			ss []string
			bs []bool
			ps plainStruct
			ar [2]int
		)
		for _, p := range []any{&i, &u8, &s, &f, &is, &fs, &ss, &bs, &ps, &ar} {
			_ = decodeFast(data, p)
		}
	})
}
