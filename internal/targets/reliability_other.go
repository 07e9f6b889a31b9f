//go:build !unix

package targets

import "errors"

var errUnsupported = errors.New("raw descriptor operations need a Unix system")

func closeFD(fd int) error { return errUnsupported }

func shutdownFD(fd int) error { return errUnsupported }

func writeFD(fd int, b []byte) error { return errUnsupported }
