//go:build unix

package proc

import (
	"os"
	"os/signal"
	"syscall"
)

func notifyCont() chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGCONT)
	return c
}

func stopCont(c chan os.Signal) { signal.Stop(c) }
