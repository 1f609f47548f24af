package protocol

import (
	"errors"
	"strconv"
)

// Errors returned by this package. Match them with errors.Is: most are
// wrapped with details.
var (
	// ErrShortFrame means the buffer holds a valid beginning of a frame but
	// not all of it. It is never wrapped and never allocates.
	ErrShortFrame = errors.New("protocol: short frame")
	// ErrBadMagic means the frame does not start with Magic.
	ErrBadMagic = errors.New("protocol: bad magic")
	// ErrVersion means the header's version is not Version.
	ErrVersion = errors.New("protocol: unsupported header version")
	// ErrFlags means a reserved flag bit (0x02 or 0x80) is set.
	ErrFlags = errors.New("protocol: reserved flag bits set")
	// ErrChecksum means the frame's CRC32 does not match its bytes.
	ErrChecksum = errors.New("protocol: checksum mismatch")
	// ErrTooLarge means a payload, as sent or once decompressed, exceeds
	// the maximum in force.
	ErrTooLarge = errors.New("protocol: payload too large")
	// ErrMalformed means a payload is not a valid encoding of its message
	// type (it failed verification), or a compressed payload is not valid
	// zstd.
	ErrMalformed = errors.New("protocol: malformed payload")
	// ErrProtocol means a frame breaks the frame rules (ValidateRules) or
	// arrives where the connection's state does not allow it, e.g. a
	// compressed frame on a connection that did not negotiate compression.
	ErrProtocol = errors.New("protocol: frame breaks the protocol rules")
	// ErrUnknownType means Decode was given a message type that has no
	// payload schema in this package.
	ErrUnknownType = errors.New("protocol: unknown message type")
)

// ErrorCode is the code carried by an Error payload (and by Disconnect).
// SPEC.md, "Error codes", says when each is used. Codes 0x8000–0xFFFF are
// the applications'.
type ErrorCode uint16

// Error codes.
const (
	ErrCodeNone             ErrorCode = 0  // no error: a normal Disconnect
	ErrCodeBadFrame         ErrorCode = 1  // a frame failed ParseFrame; the connection closes
	ErrCodeProtocol         ErrorCode = 2  // a frame broke the frame rules or came out of place; the connection closes
	ErrCodeUnknownType      ErrorCode = 3  // no handler for the request's message type
	ErrCodeMalformed        ErrorCode = 4  // the payload failed verification
	ErrCodeVersion          ErrorCode = 5  // no protocol version in common
	ErrCodeTooLarge         ErrorCode = 6  // a payload above the receiver's maximum
	ErrCodeTooManyConns     ErrorCode = 7  // connection refused: at the connection limit
	ErrCodeOverloaded       ErrorCode = 8  // too many requests in flight; retry later
	ErrCodeCanceled         ErrorCode = 9  // the request was canceled
	ErrCodeTimeout          ErrorCode = 10 // a deadline passed (tool timeout, provider timeout)
	ErrCodeNotFound         ErrorCode = 11 // unknown model, tool, session or file
	ErrCodeInvalidArgument  ErrorCode = 12 // the request is well formed but its values are not acceptable
	ErrCodePermissionDenied ErrorCode = 13 // e.g. a tool touching a path outside the workspace
	ErrCodeUnavailable      ErrorCode = 14 // provider unreachable, server draining; retry later
	ErrCodeInternal         ErrorCode = 15 // a bug or an unexpected failure in the server

	// ErrCodeAppMin is the first code of the application range.
	ErrCodeAppMin ErrorCode = 0x8000
)

var errCodeNames = [...]string{
	ErrCodeNone:             "None",
	ErrCodeBadFrame:         "BadFrame",
	ErrCodeProtocol:         "Protocol",
	ErrCodeUnknownType:      "UnknownType",
	ErrCodeMalformed:        "Malformed",
	ErrCodeVersion:          "Version",
	ErrCodeTooLarge:         "TooLarge",
	ErrCodeTooManyConns:     "TooManyConns",
	ErrCodeOverloaded:       "Overloaded",
	ErrCodeCanceled:         "Canceled",
	ErrCodeTimeout:          "Timeout",
	ErrCodeNotFound:         "NotFound",
	ErrCodeInvalidArgument:  "InvalidArgument",
	ErrCodePermissionDenied: "PermissionDenied",
	ErrCodeUnavailable:      "Unavailable",
	ErrCodeInternal:         "Internal",
}

// String returns the code's name, e.g. "Overloaded", or "ErrorCode(n)".
func (c ErrorCode) String() string {
	if int(c) < len(errCodeNames) {
		return errCodeNames[c]
	}
	if c >= ErrCodeAppMin {
		return "App(" + hex16(uint16(c)) + ")"
	}
	return "ErrorCode(" + strconv.Itoa(int(c)) + ")"
}

// ErrorCodeFor maps an error from this package to the code a receiver
// reports to its peer: ErrCodeBadFrame for framing errors (the connection
// then closes), ErrCodeTooLarge, ErrCodeMalformed, ErrCodeProtocol,
// ErrCodeUnknownType; an *Error gives its own code; anything else is
// ErrCodeInternal.
func ErrorCodeFor(err error) ErrorCode {
	var pe *Error
	switch {
	case err == nil:
		return ErrCodeNone
	case errors.As(err, &pe):
		return pe.Code
	case errors.Is(err, ErrTooLarge):
		return ErrCodeTooLarge
	case errors.Is(err, ErrBadMagic), errors.Is(err, ErrVersion), errors.Is(err, ErrFlags),
		errors.Is(err, ErrChecksum), errors.Is(err, ErrShortFrame):
		return ErrCodeBadFrame
	case errors.Is(err, ErrMalformed):
		return ErrCodeMalformed
	case errors.Is(err, ErrProtocol):
		return ErrCodeProtocol
	case errors.Is(err, ErrUnknownType):
		return ErrCodeUnknownType
	}
	return ErrCodeInternal
}
