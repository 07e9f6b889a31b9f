// Package natstest runs a NATS server with JetStream inside the process,
// for tests and for the one-machine demo: the real nats-server, on a free
// loopback port, storing in a temporary directory.
package natstest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start starts a server with JetStream on a free loopback port, storing
// under dir; edit, if not nil, adjusts its options first (TLS, accounts,
// users). Shut it down with Shutdown, then WaitForShutdown.
func Start(dir string, edit func(*server.Options)) (*server.Server, error) {
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	if edit != nil {
		edit(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natstest: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("natstest: the server was not ready within 10s")
	}
	return s, nil
}

// Run starts a server for test t (see Start), storing in t's temporary
// directory, and shuts it down when t ends.
func Run(t testing.TB, edit func(*server.Options)) *server.Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "natstest-")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(dir, edit)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
		os.RemoveAll(dir)
	})
	return s
}
