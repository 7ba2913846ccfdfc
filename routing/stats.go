package routing

// This file answers read-only questions about a router's state for the metrics.

// LeasesHeld is how many caller numbers this router holds locked for calls in
// progress now: unexpired leases not yet released.
func (r *Outbound) LeasesHeld() int {
	nowMS := r.now().UnixMilli()
	n := 0
	for _, t := range r.byID {
		t.mu.Lock()
		for id, c := range t.live {
			if c.held.id == id && c.held.until > nowMS {
				n++
			}
		}
		t.mu.Unlock()
	}
	return n
}

// LeasesHeld is how many caller numbers are locked for calls in progress now: by
// the current router and by those of earlier configs whose calls are still up.
func (r *ReloadingOutbound) LeasesHeld() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := r.cur.LeasesHeld()
	for _, old := range r.retired {
		n += old.r.LeasesHeld()
	}
	return n
}
