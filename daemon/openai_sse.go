package daemon

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxSSEEvent bounds the data of one Server-Sent Event (and of one line).
const maxSSEEvent = 4 << 20

// errSSETooLong reports an event or line above maxSSEEvent.
var errSSETooLong = errors.New("server-sent event too long")

// sseReader reads the events of a text/event-stream body (the WHATWG
// "server-sent events" format): lines ending in LF or CRLF; "field: value"
// lines; "data" lines joined with LF; comment lines (":" first) ignored,
// as are fields other than data and event; an empty line ends an event.
type sseReader struct {
	r     *bufio.Reader
	data  []byte
	event []byte
	line  []byte
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the type and data of the next event with data; they are
// valid until the next call. At the end of the body it returns io.EOF if
// the body ended between events and io.ErrUnexpectedEOF if it cut one.
func (s *sseReader) next() (event, data []byte, err error) {
	s.data, s.event = s.data[:0], s.event[:0]
	pending := false // a field of the current event was read
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && (pending || len(line) > 0) {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, err
		}
		if len(line) == 0 {
			if len(s.data) > 0 {
				// The spec drops the last LF of the joined data.
				return s.event, s.data[:len(s.data)-1], nil
			}
			pending = false
			s.event = s.event[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		pending = true
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "data":
			if len(s.data)+len(value)+1 > maxSSEEvent {
				return nil, nil, errSSETooLong
			}
			s.data = append(append(s.data, value...), '\n')
		case "event":
			s.event = append(s.event[:0], value...)
		}
	}
}

// readLine returns the next line without its LF or CRLF, valid until the
// next call; at the end of the body, the unterminated rest with io.EOF.
func (s *sseReader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.line = append(s.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(s.line) > maxSSEEvent {
				return nil, errSSETooLong
			}
			line, err = s.r.ReadSlice('\n')
			s.line = append(s.line, line...)
		}
		if len(s.line) > maxSSEEvent {
			return nil, errSSETooLong
		}
		line = s.line
	}
	if err != nil {
		return line, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
