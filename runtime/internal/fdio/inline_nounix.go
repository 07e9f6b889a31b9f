//go:build !unix

package fdio

// MaxInline is MaxMsg off Unix, where there are no message sockets yet:
// package mp sizes Queue batches by it.
const MaxInline = MaxMsg
