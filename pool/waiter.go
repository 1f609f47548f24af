package pool

// waiter is one Acquire call queued for a resource. The pool recycles
// waiters, so a contended Acquire allocates nothing either.
type waiter[T any] struct {
	prev, next *waiter[T]
	queued     bool
	start      int64 // nanoseconds since pool.epoch
	// ch receives the resource handed over, or nil with err set.
	ch  chan *Resource[T]
	err error
}

func (p *Pool[T]) enqueueLocked(w *waiter[T]) {
	w.queued = true
	w.prev = p.waitTail
	w.next = nil
	if p.waitTail != nil {
		p.waitTail.next = w
	} else {
		p.waitHead = w
	}
	p.waitTail = w
	p.nwait++
}

func (p *Pool[T]) dequeueLocked(w *waiter[T]) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		p.waitHead = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		p.waitTail = w.prev
	}
	w.prev, w.next = nil, nil
	w.queued = false
	p.nwait--
}
