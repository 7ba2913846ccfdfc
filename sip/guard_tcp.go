package sip

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// sipgo's read filter sees TCP reads, not messages: a read may hold half a message or
// several. So the guard frames the stream itself, in front of sipgo: guardConn reads
// from the peer into its own buffer, finds each message head, checks it (rate, size,
// header fields, syntax, a Content-Length to frame by), and only then hands the bytes
// to sipgo. A refused message never reaches sipgo's parser; a trunk's connection
// survives a refused message whose extent is known, any other is closed.

// listener wraps callgate's SIP TCP listener: banned sources and non-trunk sources at
// their connection limit are closed at accept, every other connection is guarded.
func (g *guard) listener(l net.Listener) net.Listener { return &guardListener{Listener: l, g: g} }

type guardListener struct {
	net.Listener
	g *guard
}

// Accept returns the next guarded connection. It never fails for a refused peer (an
// error would end sipgo's accept loop).
func (l *guardListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src, ok := addrPortOf(c.RemoteAddr())
		if !ok {
			return c, nil
		}
		trusted := l.g.trusted(src.Addr())
		if !l.g.openConn(src.Addr(), trusted) {
			l.g.closed.Add(1)
			c.Close()
			continue
		}
		return &guardConn{Conn: c, g: l.g, src: src, trusted: trusted}, nil
	}
}

const (
	connBufMin = 4096
	connBufMax = 1 << 16 // sipgo's own parser limit
	// drainGrace is how long a trunk's connection stays open, its input discarded,
	// after a message the guard cannot frame: long enough for the answers to the
	// messages before it to go out on it.
	drainGrace = 2 * time.Second
)

// guardConn is one accepted TCP connection as sipgo sees it. Only sipgo's reader
// goroutine calls Read; Close may come from anywhere and is safe twice.
type guardConn struct {
	net.Conn
	g       *guard
	src     netip.AddrPort
	trusted bool

	buf     []byte // buf[r:w]: read from the peer, not yet handed on
	r, w    int
	scanned int   // bytes of buf[r:w] already searched for the end of the head
	release int   // bytes at buf[r:] checked and ready for sipgo
	body    int   // body bytes of the current message still to hand on
	discard int   // bytes of a refused message still to drop
	eof     bool  // the guard closes the connection: no more reads
	readErr error // the peer's read error, returned once the buffer is drained
	// drainUntil, once set, is when a trunk connection that lost its framing closes;
	// until then its input is discarded.
	drainUntil time.Time

	closeOnce sync.Once
}

// Read hands sipgo checked bytes only.
func (c *guardConn) Read(b []byte) (int, error) {
	for {
		if c.release > 0 {
			n := copy(b, c.buf[c.r:c.r+c.release])
			c.r += n
			c.release -= n
			return n, nil
		}
		if c.eof {
			return 0, io.EOF
		}
		if !c.drainUntil.IsZero() {
			c.drain()
			continue
		}
		if c.step() {
			continue
		}
		if c.readErr != nil {
			return 0, c.readErr
		}
		c.fill()
	}
}

// Close closes the connection and uncounts it; safe to call twice.
func (c *guardConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.g.closeConn(c.src.Addr()) })
	return err
}

// fill reads more from the peer, growing the buffer while a head does not fit.
func (c *guardConn) fill() {
	if c.r > 0 {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	if c.w == len(c.buf) {
		size := max(connBufMin, 2*len(c.buf))
		if lim := c.g.lim.MaxMessageBytes; lim > 0 {
			size = min(size, lim+connBufMin)
		}
		size = min(size, connBufMax+connBufMin)
		if size <= len(c.buf) {
			// a head larger than any message may be (step refuses it first; this is
			// the backstop for MaxMessageBytes off)
			c.shut(dropSize)
			return
		}
		nb := make([]byte, size)
		copy(nb, c.buf[:c.w])
		c.buf = nb
	}
	if !c.trusted && c.g.lim.TCPIdleTimeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.g.lim.TCPIdleTimeout))
	}
	n, err := c.Conn.Read(c.buf[c.w:])
	c.w += n
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.g.closed.Add(1)
			err = io.EOF // an idle stranger: close quietly
		}
		c.readErr = err
	}
}

// drain discards the peer's input until drainUntil, then closes.
func (c *guardConn) drain() {
	_ = c.Conn.SetReadDeadline(c.drainUntil)
	if len(c.buf) == 0 {
		c.buf = make([]byte, connBufMin)
	}
	if _, err := c.Conn.Read(c.buf); err != nil {
		c.g.closed.Add(1)
		c.eof = true
	}
}

// step makes progress on buffered bytes: hands some on, drops some, or refuses the
// connection. It returns false when it needs more bytes.
func (c *guardConn) step() bool {
	avail := c.w - c.r
	if avail == 0 {
		return false
	}
	switch {
	case c.discard > 0:
		k := min(c.discard, avail)
		c.r += k
		c.discard -= k
		return true
	case c.body > 0:
		k := min(c.body, avail)
		c.release = k
		c.body -= k
		return true
	}
	data := c.buf[c.r:c.w]
	// Between messages: CRLF keep-alives go to sipgo on their own, as it answers a
	// double CRLF ping only when it arrives alone.
	if k := leadingCRLF(data); k > 0 {
		c.release = min(k, 4)
		return true
	}
	from := max(0, c.scanned-3)
	i := bytes.Index(data[from:], []byte("\r\n\r\n"))
	if i < 0 {
		c.scanned = avail
		if lim := c.g.lim.MaxMessageBytes; lim > 0 && avail > lim {
			c.refuse(data, lintProblem{code: 513, reason: "Message Too Large", definitive: true}, -1, dropSize)
			return true
		}
		return false
	}
	c.scanned = 0
	c.message(from + i + 4)
	return true
}

// message decides on one complete message head, the first hlen buffered bytes.
func (c *guardConn) message(hlen int) {
	g := c.g
	head := c.buf[c.r : c.r+hlen]
	if v := g.admit(c.src.Addr(), c.trusted); v != pass {
		info := scanHead(head, 0)
		if !c.trusted || info.clen < 0 || info.problem.definitive {
			c.shut(v)
			return
		}
		g.drop(v)
		c.discard = len(head) + info.clen // a trunk over its rate: drop this message only
		return
	}
	info := scanHead(head, g.lim.MaxHeaders)
	if info.tidy {
		tidy := tidyHead(head)
		n := copy(c.buf[c.r+len(tidy):], c.buf[c.r+hlen:c.w])
		c.w = c.r + len(tidy) + n
		head = tidy
	}
	reason := info.dropReason(g.lim.MaxHeaders)
	if info.problem.code != 0 && !info.problem.definitive && c.trusted {
		// Only a suspicion: a trunk's message goes to sipgo if sipgo can parse it.
		if _, _, err := g.parser.ParseHeaders(head, true); err == nil {
			info.problem = lintProblem{}
		}
	}
	switch lim := g.lim.MaxMessageBytes; {
	case info.problem.code != 0:
	case info.clen < 0:
		// RFC 3261 §18.3: on a stream, Content-Length is how messages are framed.
		info.problem.note(400, "Content-Length Required", true)
	case lim > 0 && len(head)+info.clen > lim:
		info.problem = lintProblem{code: 513, reason: "Message Too Large"}
		reason = dropSize
	}
	if info.problem.code == 0 {
		c.release = len(head)
		c.body = info.clen
		return
	}
	clen := info.clen
	if info.problem.definitive {
		clen = -1 // the extent of the message cannot be trusted
	}
	if !info.request {
		c.discard = len(head) + max(clen, 0)
		if clen < 0 {
			c.shut(reason)
		} else {
			g.drop(reason)
		}
		return
	}
	c.refuse(head, info.problem, clen, reason)
}

// refuse answers a refused request (to a trunk only) and drops it: the message alone
// if its length is known and the peer is a trunk, else the whole connection.
func (c *guardConn) refuse(head []byte, p lintProblem, clen int, reason verdict) {
	if c.trusted {
		if res := statelessResponse(head, p.code, p.reason); res != nil {
			if _, err := c.Conn.Write(res); err == nil {
				c.g.rejects.Add(1)
			}
		}
	}
	if !c.trusted || clen < 0 {
		c.shut(reason)
		return
	}
	c.g.drop(reason)
	c.discard = len(head) + clen
}

// shut refuses the rest of the connection: Read returns io.EOF and sipgo closes it;
// a trunk's connection first drains for drainGrace, so that answers already due go
// out on it (sipgo would otherwise open a new connection to the Via address).
func (c *guardConn) shut(reason verdict) {
	if reason != pass {
		c.g.drop(reason)
	}
	c.release, c.body, c.discard = 0, 0, 0
	c.r, c.w, c.scanned = 0, 0, 0
	if c.trusted && reason != dropRate {
		c.drainUntil = time.Now().Add(c.g.drainGrace)
		return
	}
	c.g.closed.Add(1)
	c.eof = true
}

// leadingCRLF counts the CR and LF bytes at the start of b.
func leadingCRLF(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}
