package pool

import "time"

// maintain runs the background maintenance every interval until Close.
func (p *Pool[T]) maintain(interval time.Duration) {
	defer close(p.maintainDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.maintainOnce()
		}
	}
}

// maintainOnce shrinks the pool (idle timeout, max lifetime), checks the
// health of resources idle for HealthCheckPeriod, and tops the idle
// resources up to MinIdle.
func (p *Pool[T]) maintainOnce() {
	now := p.nanotime()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	reap, check := p.reapBuf[:0], p.checkBuf[:0]
	// The bottom of the stack was released longest ago: shrink from there,
	// and stop at MinIdle.
	idleLeft := len(p.idle)
	keep := p.idle[:0]
	for _, res := range p.idle {
		if res.lastUsed == unstamped {
			// Released since the last run: count its idle time from now.
			res.lastUsed, res.lastVerified = now, now
		}
		switch {
		case p.pastLifetime(res, now),
			p.idleTimeout > 0 && now-res.lastUsed >= p.idleTimeout && idleLeft > p.minIdle:
			res.state = stateDestroyed
			reap = append(reap, res)
			idleLeft--
		case p.checkPeriod > 0 && now-res.lastVerified >= p.checkPeriod:
			res.state = stateChecking
			p.checking++
			check = append(check, res)
		default:
			keep = append(keep, res)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.topUpLocked()
	p.mu.Unlock()

	for _, res := range reap {
		p.destroy(res)
	}
	for _, res := range check {
		err := p.healthCheck(p.baseCtx, res.value)
		p.mu.Lock()
		p.checking--
		if err == nil && !p.closed {
			now := p.nanotime()
			res.lastVerified = now
			p.deliverLocked(res, now)
			p.mu.Unlock()
			continue
		}
		if err != nil && !p.closed {
			p.counts.healthFailures++
		}
		res.state = stateDestroyed
		p.mu.Unlock()
		p.destroy(res)
	}
	clear(reap)
	clear(check)
	p.reapBuf, p.checkBuf = reap, check
}
