package daemon

import (
	"context"
	"encoding/json"
	"runtime"
	"sort"
	"time"

	"github.com/ringwire/ringwire/protocol"
)

// Stats is a snapshot of a Server, as returned by Server.Stats and, JSON
// encoded, in the answer to protocol.MsgStats (protocol/SPEC.md §4.1).
type Stats struct {
	// UptimeSeconds is how long the server has existed, in seconds.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Sessions is the number of open sessions.
	Sessions int `json:"sessions"`
	// Accepted counts sessions accepted since start.
	Accepted uint64 `json:"accepted"`
	// Refused counts connections refused at setup (limits, draining).
	Refused uint64 `json:"refused"`
	// RefusedUID counts socket-transport connections closed on accept
	// because the peer runs as another user or its credentials could not
	// be read (shmring.UnixListener.Refused). Such peers are not counted
	// in Refused: they get no Error frame. (The shared-memory listener
	// drops them too, uncounted here: shmring.Listener reports no count.)
	RefusedUID uint64 `json:"refused_uid"`
	// Requests counts requests received since start.
	Requests uint64 `json:"requests"`
	// InFlight is the number of requests being served.
	InFlight int64 `json:"in_flight"`
	// Draining is true once Shutdown has begun.
	Draining bool `json:"draining"`
	// Goroutines is the process's goroutine count (runtime.NumGoroutine).
	Goroutines int `json:"goroutines"`
	// Memory is the process's memory as the Go runtime sees it, and its
	// open files and shared mappings: what a leak would grow.
	Memory MemoryStats `json:"memory"`
	// SessionList describes each open session, by id.
	SessionList []SessionStats `json:"session_list"`
}

// SessionStats describes one session.
type SessionStats struct {
	ID         uint64  `json:"id"`
	Transport  string  `json:"transport"`
	Client     string  `json:"client,omitempty"`
	PID        int32   `json:"pid,omitempty"`
	AgeSeconds float64 `json:"age_seconds"`
	Requests   uint64  `json:"requests"`
	InFlight   int64   `json:"in_flight"`
	// Ring occupancy (shared-memory transport only): bytes used and
	// capacity of the ring the daemon writes (tx) and reads (rx).
	TxUsed     uint64 `json:"tx_used,omitempty"`
	TxCapacity uint64 `json:"tx_capacity,omitempty"`
	RxUsed     uint64 `json:"rx_used,omitempty"`
	RxCapacity uint64 `json:"rx_capacity,omitempty"`
}

// Stats returns a snapshot of the server.
func (s *Server) Stats() Stats {
	now := time.Now()
	st := Stats{
		UptimeSeconds: now.Sub(s.start).Seconds(),
		Accepted:      s.accepted.Load(),
		Refused:       s.refused.Load(),
		Requests:      s.requests.Load(),
		InFlight:      s.inflight.Load(),
		Draining:      s.draining.Load(),
		Goroutines:    runtime.NumGoroutine(),
		Memory:        readMemoryStats(),
	}
	st.Memory.IdleReleases = s.idleReleases.Load()
	s.mu.Lock()
	if s.sockLn != nil {
		st.RefusedUID = s.sockLn.Refused()
	}
	list := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	s.mu.Unlock()
	st.Sessions = len(list)
	st.SessionList = make([]SessionStats, 0, len(list))
	for _, sess := range list {
		ss := SessionStats{
			ID:         sess.info.ID,
			Transport:  sess.info.Transport.String(),
			PID:        sess.info.PID,
			AgeSeconds: now.Sub(sess.started).Seconds(),
			Requests:   sess.requests.Load(),
			InFlight:   sess.inflight.Load(),
		}
		if sess.handshaken.Load() {
			ss.Client = sess.info.ClientName
		}
		if sess.stats != nil {
			ss.TxUsed, ss.TxCapacity, ss.RxUsed, ss.RxCapacity = sess.stats()
		}
		st.SessionList = append(st.SessionList, ss)
	}
	sort.Slice(st.SessionList, func(i, j int) bool { return st.SessionList[i].ID < st.SessionList[j].ID })
	return st
}

// serveStats answers protocol.MsgStats with the JSON encoding of Stats. The stats
// request itself is not counted in flight.
func (s *Server) serveStats(_ context.Context, w ResponseWriter, r *Request) {
	st := s.Stats()
	st.InFlight--
	for i := range st.SessionList {
		if st.SessionList[i].ID == r.Session.ID {
			st.SessionList[i].InFlight--
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		_ = w.Error(protocol.ErrCodeInternal, err.Error(), false)
		return
	}
	_ = w.Respond(protocol.MsgStats, b)
}
