package shmring

import (
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

const wantSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL

// segment is a mapped memfd, reference-counted: the connection holds one
// reference, and each outstanding zero-copy slice (Peek before Release,
// Reserve before Commit) holds another. The memory is unmapped when the last
// reference is dropped, never earlier: touching unmapped memory would kill
// the process.
type segment struct {
	mem  []byte
	refs atomic.Int32
}

func newSegmentRef(mem []byte) *segment {
	s := &segment{mem: mem}
	s.refs.Store(1)
	return s
}

// acquire takes a reference unless the segment is already unmapped.
func (s *segment) acquire() bool {
	for {
		r := s.refs.Load()
		if r <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// release drops a reference and unmaps the segment after the last one.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		_ = unix.Munmap(s.mem)
	}
}

// createSegment makes a sealed memfd of l.size bytes, maps it and writes the
// header. The caller owns fd (to pass it to the peer, then close it).
func createSegment(l layout) (fd int, mem []byte, err error) {
	fd, err = unix.MemfdCreate("ringwire-shmring", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, unix.EINVAL) { // kernels before 6.3 lack MFD_NOEXEC_SEAL
		fd, err = unix.MemfdCreate("ringwire-shmring", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return -1, nil, fmt.Errorf("shmring: memfd_create: %w", err)
	}
	fail := func(what string, err error) (int, []byte, error) {
		_ = unix.Close(fd)
		return -1, nil, fmt.Errorf("shmring: %s: %w", what, err)
	}
	if err := ignoringEINTR(func() error { return unix.Ftruncate(fd, int64(l.size)) }); err != nil {
		return fail("ftruncate memfd", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, wantSeals); err != nil {
		return fail("seal memfd", err)
	}
	mem, err = unix.Mmap(fd, 0, int(l.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mmap memfd", err)
	}
	l.writeHeader(mem[:headerSize])
	return fd, mem, nil
}

// openSegment validates a memfd received from the listener and maps it: a
// regular file of exactly the granted size, sealed against shrinking and
// growing (so the peer cannot make our accesses fault), whose header matches
// the canonical layout. fd is not closed.
func openSegment(fd int, cap0, cap1 uint64) ([]byte, layout, error) {
	want := newLayout(cap0, cap1)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, layout{}, fmt.Errorf("shmring: fstat memfd: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, layout{}, fmt.Errorf("%w: the segment fd is not a memfd (mode %#o)", ErrCorrupt, st.Mode)
	}
	if st.Size != int64(want.size) {
		return nil, layout{}, fmt.Errorf("%w: memfd is %d bytes, want %d", ErrCorrupt, st.Size, want.size)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, layout{}, fmt.Errorf("%w: the segment fd cannot be sealed: %v", ErrCorrupt, err)
	}
	if seals&wantSeals != wantSeals {
		return nil, layout{}, fmt.Errorf("%w: memfd seals %#x lack shrink/grow/seal (%#x)", ErrCorrupt, seals, wantSeals)
	}
	mem, err := unix.Mmap(fd, 0, int(want.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, layout{}, fmt.Errorf("shmring: mmap memfd: %w", err)
	}
	hdr := make([]byte, headerSize) // private copy: shared bytes may change under us
	copy(hdr, mem)
	l, err := parseHeader(hdr, st.Size, cap0, cap1)
	if err != nil {
		_ = unix.Munmap(mem)
		return nil, layout{}, err
	}
	return mem, l, nil
}
