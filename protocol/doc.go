// Package protocol is ringwire's wire protocol: the 24-byte frame header, CRC32, flags, message types, FlatBuffers payloads and compression. Not yet implemented.
package protocol
