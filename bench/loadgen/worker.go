package main

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxMIDs is how many Message IDs one socket uses before it is replaced. A server keeps a
// request's MID for deduplication for EXCHANGE_LIFETIME (247 s, RFC 7252 section 4.8.2) per
// endpoint, and would answer a reused MID from that cache; staying well below the 16-bit MID
// space and then moving to a new source port (a new endpoint) never reuses one. A var for tests.
var maxMIDs = 60_000

// exchangeLifetime is EXCHANGE_LIFETIME with the default transmission parameters (section 4.8.2).
const exchangeLifetime = 247 * time.Second

// runner is the state the socket goroutines share: the configuration, the request template
// and the schedule, all read-only once running, plus a few flags.
type runner struct {
	cfg                  config
	template             []byte
	plaintext            []byte // with -oscore: the request as OSCORE encrypts it, without Echo
	seqFirst             uint64 // with -oscore: the lowest sequence number of the contexts at the start
	start                time.Time
	warmupEnd, end, tick time.Duration // since start

	received atomic.Bool // any datagram from the target, for the reachability check
	refused  atomic.Bool // an ICMP port unreachable was reported on some socket

	mu     sync.Mutex
	closed map[int]time.Duration // local port -> when a rotated-out socket closed it

	dials atomic.Uint32 // sockets opened so far, to spread them over -sources addresses
}

func (r *runner) now() time.Duration { return time.Since(r.start) } // monotonic clock

// dial opens a socket connected to the target on a fresh ephemeral port. It skips a port that a
// rotated-out socket of this run closed less than EXCHANGE_LIFETIME ago, since the server would
// see the same endpoint again (holding such a socket open so the kernel picks another port).
func (r *runner) dial() (*net.UDPConn, error) {
	var skipped []*net.UDPConn
	defer func() {
		for _, c := range skipped {
			c.Close()
		}
	}()
	for {
		var local *net.UDPAddr
		if r.cfg.sources > 1 {
			// Many client hosts, as a server sees them: 127.0.0.1, 127.0.0.2... are all loopback.
			local = &net.UDPAddr{IP: net.IPv4(127, 0, 0, byte(1+int(r.dials.Add(1))%r.cfg.sources))}
		}
		c, err := net.DialUDP("udp", local, r.cfg.addr)
		if err != nil {
			return nil, err
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		r.mu.Lock()
		at, seen := r.closed[port]
		r.mu.Unlock()
		if !seen || r.now()-at >= exchangeLifetime || len(skipped) >= 100 {
			return c, nil
		}
		skipped = append(skipped, c)
	}
}

func (r *runner) release(c *net.UDPConn) {
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	r.mu.Lock()
	r.closed[port] = r.now()
	r.mu.Unlock()
}

// slot is one outstanding request.
type slot struct {
	busy     bool
	separate bool // an Empty ACK came: the response follows separately (section 5.2.2)
	measured bool // sent after the warm-up, so it counts
	mid      uint16
	token    uint32
	sent     time.Duration
	// With -oscore: the request's sequence number (its Partial IV), whether it carried the
	// Echo of a challenge, and its size.
	seq   uint64
	echo  bool
	bytes int
}

// worker drives one client socket, closed loop: it keeps cfg.inflight requests outstanding and
// sends the next one from the same goroutine that reads the response, with no handoff.
type worker struct {
	r        *runner
	conn     *net.UDPConn
	slots    []slot
	busy     int
	nextMID  uint16
	nextTok  uint32
	midsUsed int
	req      []byte // this worker's copy of the request template
	buf      []byte
	ack      [4]byte
	msg      Message
	gotAny   bool
	hist     histogram // ok latencies; read concurrently by the progress reporter

	// With -oscore: this socket's own security context, the request with the current Echo,
	// and buffers for the decrypted response and its decoded inner message.
	osc                *oscoreContext
	plainEcho          []byte
	plainBuf, innerBuf []byte
	inner              Message
	challenges         uint64            // Echo challenges answered, measured or not
	named              map[string]uint64 // measured OSCORE failures, by what failed
	lastReqBytes       int

	// Tallies of measured requests, read only after the worker has finished.
	requests, ok, timeouts, resets, stray, rotations uint64
	errs                                             [256]uint64 // by response code byte
	sum, max                                         time.Duration
	lastOK                                           time.Duration
	lastPayload                                      int
	lastCF                                           int // -1: none
	err                                              error
}

func newWorker(r *runner, conn *net.UDPConn) *worker {
	return &worker{
		r: r, conn: conn, slots: make([]slot, r.cfg.inflight),
		nextMID: uint16(rand.Uint32()), nextTok: rand.Uint32(),
		req: append([]byte(nil), r.template...), buf: make([]byte, 64<<10),
		msg: Message{Options: make([]Option, 0, 16)}, lastCF: -1,
		inner: Message{Options: make([]Option, 0, 16)}, named: map[string]uint64{},
	}
}

func (w *worker) run() {
	r := w.r
	defer func() { w.conn.Close() }()
	for i := range w.slots {
		w.send(i)
	}
	nextCheck := r.now() + r.tick
	w.conn.SetReadDeadline(r.start.Add(nextCheck))
	for {
		if w.busy == 0 {
			if r.now() >= r.end {
				return
			}
			if w.midsUsed >= maxMIDs {
				if !w.rotate() {
					return
				}
				nextCheck = r.now() + r.tick
				w.conn.SetReadDeadline(r.start.Add(nextCheck))
			}
		}
		n, err := w.conn.Read(w.buf)
		switch {
		case err == nil:
			w.handle(w.buf[:n])
		case errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, syscall.ECONNREFUSED):
			// ICMP port unreachable: nobody listens. The request simply times out.
			r.refused.Store(true)
		default:
			w.err = err
			return
		}
		// Timeouts are checked every tick rather than with a deadline per request, which
		// keeps SetReadDeadline off the per-request path; a response arriving after the
		// timeout but before the check still counts as a timeout (see complete).
		if now := r.now(); now >= nextCheck {
			w.expire(now)
			nextCheck = now + r.tick
			w.conn.SetReadDeadline(r.start.Add(nextCheck))
		}
	}
}

// rotate replaces the socket once its outstanding requests are done, so that no response is
// lost, and refills the pipeline on the new one.
func (w *worker) rotate() bool {
	w.r.release(w.conn)
	c, err := w.r.dial()
	if err != nil {
		w.conn, w.err = nil, err
		return false
	}
	w.conn, w.midsUsed, w.nextMID = c, 0, uint16(rand.Uint32())
	w.rotations++
	for i := range w.slots {
		w.send(i)
	}
	return true
}

// send issues a new request in the free slot i, unless the run is over or the socket has used
// its Message IDs (then the run loop rotates it once the other slots are done).
func (w *worker) send(i int) {
	now := w.r.now()
	if now >= w.r.end || w.midsUsed >= maxMIDs {
		return
	}
	s := &w.slots[i]
	*s = slot{busy: true, measured: now >= w.r.warmupEnd, mid: w.nextMID, token: w.nextTok, sent: now}
	w.nextMID++
	w.nextTok++
	w.midsUsed++
	w.busy++
	if s.measured {
		w.requests++
	}
	if w.osc != nil {
		w.protect(s)
	} else {
		binary.BigEndian.PutUint16(w.req[2:], s.mid)
		binary.BigEndian.PutUint32(w.req[4:], s.token)
	}
	if _, err := w.conn.Write(w.req); errors.Is(err, syscall.ECONNREFUSED) {
		w.r.refused.Store(true) // a pending ICMP error; the request will time out
	}
}

func (w *worker) handle(b []byte) {
	if !w.gotAny {
		w.gotAny = true
		w.r.received.Store(true)
	}
	m := &w.msg
	if m.Decode(b) != nil {
		w.stray++
		return
	}
	switch m.Type {
	case typeACK, typeRST:
		i := w.byMID(m.MID)
		switch {
		case i < 0:
			w.stray++
		case m.Type == typeACK && w.r.cfg.typ != typeCON:
			w.stray++ // a NON request is never acknowledged (section 4.3); its answer is matched by token
		case m.Type == typeRST:
			if w.slots[i].measured {
				w.resets++
			}
			w.free(i)
			w.send(i)
		case m.Code == codeEmpty:
			w.slots[i].separate = true // section 5.2.2: the response comes later, by token
		case !w.tokenIs(i, m.Token):
			w.stray++ // same MID, other token: not our response (section 5.3.2)
		default:
			w.complete(i) // piggybacked (section 5.2.1)
		}
	default: // CON or NON: a separate response (section 5.2.2), or the response to a NON request
		// (section 5.2.3), with its own MID: matched by token only
		i := w.byToken(m.Token)
		if m.Type == typeCON {
			// Acknowledge it with an Empty ACK of its MID, or reject it with a RST when we
			// expect no such response (sections 4.2, 5.3.2).
			t := typeACK
			if i < 0 {
				t = typeRST
			}
			w.ack = [4]byte{1<<6 | t<<4, codeEmpty, byte(m.MID >> 8), byte(m.MID)}
			w.conn.Write(w.ack[:])
		}
		if i < 0 {
			w.stray++
			return
		}
		w.complete(i)
	}
}

// The linear scans are cheap for the few requests a socket has outstanding.
func (w *worker) byMID(mid uint16) int {
	for i := range w.slots {
		if s := &w.slots[i]; s.busy && !s.separate && s.mid == mid {
			return i
		}
	}
	return -1
}

func (w *worker) byToken(tok []byte) int {
	for i := range w.slots {
		if w.slots[i].busy && w.tokenIs(i, tok) {
			return i
		}
	}
	return -1
}

func (w *worker) tokenIs(i int, tok []byte) bool {
	return len(tok) == tokenLen && binary.BigEndian.Uint32(tok) == w.slots[i].token
}

// complete tallies the response in w.msg for slot i and sends the next request. With
// -oscore the response counts as ok only if it verifies, its outer code is 2.04 and its inner
// code 2.05.
func (w *worker) complete(i int) {
	now, s, m := w.r.now(), w.slots[i], &w.msg
	w.free(i)
	lat := now - s.sent
	problem := ""
	if w.osc != nil {
		m, problem = w.unprotect(&s)
	}
	switch {
	case !s.measured: // a warm-up request
	case lat > w.r.cfg.timeout:
		w.timeouts++
	case problem != "":
		w.named[problem]++
	case m.Code == codeContent && len(m.Payload) > 0:
		w.ok++
		w.hist.record(int64(lat))
		w.sum += lat
		w.max = max(w.max, lat)
		w.lastOK, w.lastPayload, w.lastCF, w.lastReqBytes = now, len(m.Payload), -1, s.bytes
		if cf, ok := m.uintOption(optContentFormat); ok {
			w.lastCF = int(cf)
		}
	default:
		w.errs[m.Code]++
	}
	w.send(i)
}

// protect writes the OSCORE request of slot s into w.req under the socket's context, with
// the context's next sequence number, and with the Echo of the last challenge until a request
// carrying it is answered.
func (w *worker) protect(s *slot) {
	plain := w.r.plaintext
	if w.osc.echo != nil {
		plain, s.echo = w.plainEcho, true
	}
	var err error
	w.req, s.seq, err = w.osc.protect(w.req[:0], w.r.cfg.typ, s.mid, s.token, plain)
	s.bytes = len(w.req)
	if err != nil && w.err == nil {
		w.err = err
	}
}

// unprotect verifies the response in w.msg to the request of slot s (RFC 8613 section 8.4)
// and returns its inner message, or what failed. An inner 4.01 with Echo is the server's
// freshness challenge (Appendix B.1.2): the next requests carry that Echo.
func (w *worker) unprotect(s *slot) (*Message, string) {
	pt, problem := w.osc.unprotect(w.plainBuf[:0], &w.msg, s.seq)
	if problem != "" {
		return &w.msg, problem
	}
	w.plainBuf = pt[:0]
	var err error
	if w.innerBuf, err = innerMessage(w.innerBuf, pt, &w.inner); err != nil {
		return &w.msg, "oscore: inner message malformed"
	}
	if echo, ok := echoOf(&w.inner); ok && w.inner.Code == codeUnauth {
		w.challenges++
		w.osc.echo = append([]byte(nil), echo...)
		if w.plainEcho, err = w.r.cfg.request().plaintext(w.osc.echo); err != nil {
			w.osc.echo = nil
		}
		return &w.inner, "4.01 Echo challenge"
	}
	if s.echo && w.inner.Code>>5 == 2 {
		w.osc.echo = nil // the server has initialised its replay window: no Echo needed any more
	}
	return &w.inner, ""
}

func (w *worker) free(i int) {
	w.slots[i].busy = false
	w.busy--
}

// expire counts the requests unanswered for cfg.timeout as timeouts. They are not
// retransmitted: a new request with a new MID takes the slot.
func (w *worker) expire(now time.Duration) {
	for i := range w.slots {
		if s := &w.slots[i]; s.busy && now-s.sent >= w.r.cfg.timeout {
			if s.measured {
				w.timeouts++
			}
			w.free(i)
			w.send(i)
		}
	}
}
