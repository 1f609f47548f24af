package shmring

import (
	"errors"
	"fmt"
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// sendFull writes b (and, with its first byte, the descriptors fds).
func sendFull(c *net.UnixConn, b []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return fmt.Errorf("shmring: setup write: %w", err)
	}
	if n < len(b) {
		if _, err := c.Write(b[n:]); err != nil {
			return fmt.Errorf("shmring: setup write: %w", err)
		}
	}
	return nil
}

// maxRecvFDs bounds the descriptors read in one control message; a peer
// sending more makes the kernel truncate, which is an error.
const maxRecvFDs = 8

// recvFull fills b from the socket and returns every descriptor that came
// with it. On error the descriptors received so far are closed.
func recvFull(c *net.UnixConn, b []byte) (fds []int, err error) {
	oob := make([]byte, unix.CmsgSpace(maxRecvFDs*4))
	defer func() {
		if err != nil {
			closeFDs(fds)
			fds = nil
		}
	}()
	for n := 0; n < len(b); {
		k, oobn, flags, _, err := c.ReadMsgUnix(b[n:], oob)
		if oobn > 0 {
			got, perr := parseRights(oob[:oobn])
			fds = append(fds, got...)
			if perr != nil {
				return fds, perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			return fds, fmt.Errorf("%w: peer sent more than %d descriptors", ErrCorrupt, maxRecvFDs)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fds, fmt.Errorf("shmring: setup read: %w", err)
		}
		if k == 0 {
			return fds, fmt.Errorf("shmring: setup read: %w", io.ErrUnexpectedEOF)
		}
		n += k
	}
	return fds, nil
}

// parseRights extracts SCM_RIGHTS descriptors from control data.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control message: %v", ErrCorrupt, err)
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return fds, fmt.Errorf("%w: SCM_RIGHTS: %v", ErrCorrupt, err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}

// recvMsg reads one setup message of an expected type, closing any
// descriptor a peer attached when none was expected.
func recvMsg(c *net.UnixConn, want ...uint8) (setupHeader, []byte, []int, error) {
	var hb [setupHdr]byte
	fds, err := recvFull(c, hb[:])
	if err != nil {
		return setupHeader{}, nil, nil, err
	}
	h, err := parseSetupHeader(hb[:], want...)
	if err != nil {
		closeFDs(fds)
		return setupHeader{}, nil, nil, err
	}
	body := make([]byte, h.bodyLen)
	more, err := recvFull(c, body)
	fds = append(fds, more...)
	if err != nil {
		closeFDs(fds)
		return setupHeader{}, nil, nil, err
	}
	return h, body, fds, nil
}
