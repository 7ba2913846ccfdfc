package routing

// SupplierReport applies a supplier's report on one of the tenants' caller numbers to
// the in-memory index at once (the store has already recorded it): until is when the
// number may carry calls again (zero: now) and reason why it rests. A number no
// tenant has is ignored. It returns whether the router knew the number.
func (r *Outbound) SupplierReport(number string, untilMS int64, reason string) bool {
	now := r.now().UnixMilli()
	known := false
	for _, t := range r.byID {
		t.mu.Lock()
		if c := t.byNumber[number]; c != nil {
			known = true
			c.restingUntil, c.restReason = untilMS, reason
			t.recheck(c, now)
		}
		t.mu.Unlock()
	}
	return known
}

// SupplierReport applies the report to the current router; routers retired by a
// reload only finish their calls and take no new ones.
func (r *ReloadingOutbound) SupplierReport(number string, untilMS int64, reason string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cur.SupplierReport(number, untilMS, reason)
}
