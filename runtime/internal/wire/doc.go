// Package wire is the control protocol between a parent and its children:
// frames, the messages they carry, and the one varint codec their bodies
// are built with. It knows nothing of processes, codecs or handles; package
// mp (github.com/mpgen/mpgen/runtime) decides what to send and when, and
// the transport below it (a socketpair today, a message bus tomorrow)
// moves the bytes and the descriptors.
//
// Every message is one frame,
//
//	uint32 length | uint8 kind | uint64 call id | body (length-9 bytes)
//
// all integers big-endian. The frame format knows nothing of the transport
// and the call id lets one channel carry many calls. Bodies are built from
// uvarints and length-prefixed byte strings (see Encoder and Decoder), never
// from a codec, so a frame can be validated without reflection or
// allocation surprises. A serialized argument or result travels as a Value:
// a form byte, its bytes (made by package mp's codecs) and, for a handle, the
// number of descriptors sent beside the frame.
//
// Package wire imports only the standard library. It never imports package
// mp, mpimpl or the registry: the layers above it depend on it, not the
// other way round.
package wire
