package mp

import "os"

// A handle is a runtime value that travels to another process as open
// descriptors plus a short description, never through a codec: Conn, Queue,
// the locks, Value, Array and SharedMemory. The descriptors are sent beside
// the frame that names them (SCM_RIGHTS on the control channel), so the
// receiver gets its own duplicates and no descriptor number is ever
// serialized.
type handle interface {
	// mpExport describes the value for another process. meta is opaque to
	// the transport; files are sent beside the frame, and the sender keeps
	// ownership of them.
	mpExport() (meta []byte, files []*os.File, err error)
}

// importer is implemented by a pointer to each handle type. mpImport
// rebuilds the value in the receiving process from meta and the received
// files, and takes ownership of the files (it closes them if it fails).
type importer interface {
	mpImport(meta []byte, files []*os.File) error
}
