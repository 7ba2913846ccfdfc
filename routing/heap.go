package routing

// This file holds the two heaps of the in-memory index: each group of numbers (a
// kind and a place) is a heap of its free numbers ordered by last use, and each
// tenant has a heap of parked numbers ordered by when they may be free again.

// member is a number's place in one group's heap.
type member struct {
	c   *callerState
	h   *numberHeap
	pos int // index in h.items; -1 while not in the heap
}

// numberHeap is a min-heap of free numbers: least recently used first, config order
// breaking ties.
type numberHeap struct {
	items []*member
}

func lessMember(a, b *member) bool {
	if a.c.lastUsed != b.c.lastUsed {
		return a.c.lastUsed < b.c.lastUsed
	}
	return a.c.idx < b.c.idx
}

func (h *numberHeap) push(m *member) {
	m.pos = len(h.items)
	h.items = append(h.items, m)
	h.up(m.pos)
}

// remove takes m out of h, if it is in.
func (h *numberHeap) remove(m *member) {
	i := m.pos
	if i < 0 || i >= len(h.items) || h.items[i] != m {
		return
	}
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	h.items[last] = nil
	h.items = h.items[:last]
	m.pos = -1
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h *numberHeap) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].pos = i
	h.items[j].pos = j
}

func (h *numberHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !lessMember(h.items[i], h.items[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *numberHeap) down(i int) bool {
	start := i
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && lessMember(h.items[r], h.items[l]) {
			j = r
		}
		if !lessMember(h.items[j], h.items[i]) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > start
}

// cursor is a position in one of the heaps a walk merges.
type cursor struct {
	h   *numberHeap
	pos int
}

// walkHeaps visits the members of hs in order, least recently used first, merging
// the heaps, until visit returns false, without changing them: it keeps a frontier
// of heap positions (scratch, reused between walks) whose smallest is always the
// next in order. A number in two of the heaps is visited twice. visit must not
// change any heap.
func walkHeaps(hs []*numberHeap, scratch *[]cursor, visit func(*member) bool) {
	f := (*scratch)[:0]
	at := func(i int) *member { return f[i].h.items[f[i].pos] }
	less := func(a, b int) bool { return lessMember(at(a), at(b)) }
	push := func(c cursor) {
		f = append(f, c)
		for i := len(f) - 1; i > 0; {
			p := (i - 1) / 2
			if !less(i, p) {
				break
			}
			f[i], f[p] = f[p], f[i]
			i = p
		}
	}
	pop := func() cursor {
		top := f[0]
		last := len(f) - 1
		f[0] = f[last]
		f = f[:last]
		for i := 0; ; {
			l := 2*i + 1
			if l >= len(f) {
				break
			}
			j := l
			if r := l + 1; r < len(f) && less(r, l) {
				j = r
			}
			if !less(j, i) {
				break
			}
			f[i], f[j] = f[j], f[i]
			i = j
		}
		return top
	}
	for _, h := range hs {
		if len(h.items) > 0 {
			push(cursor{h, 0})
		}
	}
	for len(f) > 0 {
		c := pop()
		if !visit(c.h.items[c.pos]) {
			break
		}
		for _, child := range [2]int{2*c.pos + 1, 2*c.pos + 2} {
			if child < len(c.h.items) {
				push(cursor{c.h, child})
			}
		}
	}
	clear(f)
	*scratch = f[:0]
}

// wake is when a parked number may be free again; gen tells a wake that is still
// current from one overtaken by a later park or an unpark.
type wake struct {
	at  int64 // unix ms
	c   *callerState
	gen uint64
}

// wakeHeap is a min-heap of wakes, earliest first.
type wakeHeap []wake

func (w *wakeHeap) push(x wake) {
	*w = append(*w, x)
	h := *w
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// popDue removes and returns the earliest wake if it is due at now.
func (w *wakeHeap) popDue(now int64) (wake, bool) {
	h := *w
	if len(h) == 0 || h[0].at > now {
		return wake{}, false
	}
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = wake{}
	h = h[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		j := l
		if r := l + 1; r < len(h) && h[r].at < h[l].at {
			j = r
		}
		if h[j].at >= h[i].at {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	*w = h
	return top, true
}
