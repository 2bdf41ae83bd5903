// Command loadgen measures the throughput and latency of CoAP requests against a server, over
// raw UDP with the standard library only (no CoAP library on the client side, so the client's
// own stack is not what gets measured). It runs a closed loop: each of -sockets UDP sockets
// keeps -inflight requests outstanding and sends the next as soon as one completes.
//
// By default the request is a confirmable GET of -path. -type NON sends it non-confirmable,
// -method another method (FETCH...), -query adds Uri-Query options, -payload-hex a payload and
// -content-format its Content-Format. A piggybacked response (ACK) is matched by Message ID and
// token; a separate one (CON or NON, which has its own Message ID) by token only, so the answer
// to a NON request is matched by its token. A RST is matched by Message ID. Nothing is ever
// retransmitted: a lost CON or NON request, or its lost response, is a timeout.
//
// Only requests sent after -warmup count. Each one ends as ok (2.05 with a payload), an error
// (tallied by response code, a 2.05 without payload as "2.05", a RST as "reset") or a timeout;
// at the end no new request is sent and the outstanding ones are waited for (at most -timeout),
// so requests = ok + errors + timeouts: one outcome per request, a second response to a request
// already answered is counted as stray. latency_us covers the ok responses.
//
//	go run . -target 127.0.0.1:5683 -path temp -duration 10s -json
//	go run . -path temp -type NON
//	go run . -path temp -method FETCH -content-format 60 -payload-hex 'a1 64 756e6974 61 4b'
//	go run . -path temp -query unit=K
//	go run . -path temp -oscore clients.json
//
// -oscore protects every request with OSCORE (RFC 8613, see oscore.go): the file holds the
// clients' security contexts in the gateway's credentials format (`{"clients": {"<name>":
// {"sender-id_hex", "recipient-id_hex", "secret_hex", "salt_hex"}}}`, aiocoap's settings.json
// keys) from the clients' point of view; socket i uses the i-th client in name order, so the
// file needs at least -sockets clients. The sequence numbers persist in <file>.seq. A response
// is ok only if it verifies, with outer code 2.04 and inner 2.05 with a payload.
package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type config struct {
	target, path                        string
	addr                                *net.UDPAddr
	accept, sockets, inflight           int
	typ, code                           uint8    // request type (typeCON, typeNON) and method code
	query                               []string // Uri-Query options
	contentFormat                       int      // of the payload; -1: no Content-Format option
	payload                             []byte
	sources                             int // client addresses 127.0.0.1.. (IPv4 loopback targets)
	duration, warmup, timeout, interval time.Duration
	json                                bool
	oscore                              string // credentials file; "": plain CoAP
}

// request is the request every socket sends.
func (c config) request() request {
	return request{typ: c.typ, code: c.code, path: c.path, query: c.query, accept: c.accept, contentFormat: c.contentFormat, payload: c.payload}
}

// result is the final report; the field names are what the benchmark runner reads.
type result struct {
	Target        string            `json:"target"`
	Path          string            `json:"path"`
	Sockets       int               `json:"sockets"`
	Inflight      int               `json:"inflight"`
	Seconds       float64           `json:"seconds"`
	Requests      uint64            `json:"requests"`
	OK            uint64            `json:"ok"`
	Errors        map[string]uint64 `json:"errors"`
	Timeouts      uint64            `json:"timeouts"`
	Stray         uint64            `json:"stray"`
	Rotations     uint64            `json:"rotations"`
	RPS           float64           `json:"rps"`
	Latency       latency           `json:"latency_us"`
	PayloadBytes  int               `json:"payload_bytes"`
	ContentFormat *int              `json:"content_format"`
	Request       requestInfo       `json:"request"`
	OSCORE        *oscoreInfo       `json:"oscore,omitempty"`
}

// oscoreInfo describes an -oscore run.
type oscoreInfo struct {
	// Contexts is the number of client contexts used, one per socket.
	Contexts int `json:"contexts"`
	// EchoChallenges counts the protected 4.01 Echo responses, measured or not (those measured
	// are also tallied in errors); after a server start, one per context is expected.
	EchoChallenges uint64 `json:"echo_challenges"`
	// SeqFirst and SeqNext bound the sequence numbers the contexts used in this run.
	SeqFirst uint64 `json:"seq_first"`
	SeqNext  uint64 `json:"seq_next"`
}

// requestInfo describes the request sent (payload_bytes and content_format above are those of
// the last ok response).
type requestInfo struct {
	Type          string   `json:"type"`
	Method        string   `json:"method"`
	Query         []string `json:"query"`
	ContentFormat *int     `json:"content_format"`
	PayloadBytes  int      `json:"payload_bytes"`
	// Bytes is the whole datagram (with -oscore, the one of the last ok response's request:
	// its Partial IV grows with the sequence number).
	Bytes  int  `json:"bytes"`
	OSCORE bool `json:"oscore"`
}

// latency of the ok responses, in microseconds.
type latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// reachWithin is how long the target has to send anything back before the run is abandoned.
const reachWithin = 3 * time.Second

var errUnreachable = errors.New("unreachable")

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	res, err := run(cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		if res == nil {
			os.Exit(2)
		}
	}
	if cfg.json {
		json.NewEncoder(os.Stdout).Encode(res)
	} else {
		printSummary(os.Stdout, res)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ExitOnError) // exits 2 on an unknown flag
	fs.StringVar(&c.target, "target", "127.0.0.1:5683", "server `host:port` ([::1]:5683 for IPv6)")
	fs.StringVar(&c.path, "path", "temp", "Uri-Path, slash-separated segments (e.g. gw/stats)")
	fs.IntVar(&c.accept, "accept", -1, "Accept option `content-format` (-1: none)")
	typ, method, payloadHex := "CON", "GET", ""
	fs.StringVar(&typ, "type", typ, "request `type`: CON or NON (a NON response is matched by token)")
	fs.StringVar(&method, "method", method, "request `method`: GET, POST, PUT, DELETE, FETCH, PATCH or iPATCH")
	fs.Func("query", "Uri-Query options: `name=value&...`, one option per &-separated item (may be repeated)", func(v string) error {
		for _, item := range strings.Split(v, "&") {
			if item != "" {
				c.query = append(c.query, item)
			}
		}
		return nil
	})
	fs.StringVar(&payloadHex, "payload-hex", "", "request payload as `hex` (spaces allowed), e.g. a1 64 756e6974 61 4b for CBOR {\"unit\":\"K\"}")
	fs.IntVar(&c.contentFormat, "content-format", -1, "Content-Format option of the payload: `content-format` (-1: none; 60 application/cbor)")
	fs.IntVar(&c.sockets, "sockets", 64, "client UDP sockets, each on its own ephemeral port")
	fs.IntVar(&c.inflight, "inflight", 1, "outstanding requests per socket")
	fs.IntVar(&c.sources, "sources", 1, "spread the sockets over this many client addresses 127.0.0.1, 127.0.0.2... (IPv4 loopback target only)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured period")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "period before it whose requests are not counted")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Second, "a request unanswered this long is a timeout (never retransmitted)")
	fs.DurationVar(&c.interval, "interval", 0, "if > 0, a JSON progress line on stderr every interval")
	fs.BoolVar(&c.json, "json", false, "print the result as one JSON object on stdout")
	fs.StringVar(&c.oscore, "oscore", "", "protect the requests with OSCORE: credentials `file` (clients' point of view, one client per socket; sequence numbers kept in file.seq)")
	fs.Parse(args)
	var ok bool
	switch strings.ToUpper(typ) {
	case "CON":
		c.typ = typeCON
	case "NON":
		c.typ = typeNON
	default:
		return c, fmt.Errorf("-type %q: CON or NON", typ)
	}
	if c.code, ok = methods[strings.ToUpper(method)]; !ok {
		return c, fmt.Errorf("-method %q: GET, POST, PUT, DELETE, FETCH, PATCH or iPATCH", method)
	}
	if payloadHex != "" {
		var err error
		if c.payload, err = hex.DecodeString(strings.Join(strings.Fields(payloadHex), "")); err != nil {
			return c, fmt.Errorf("-payload-hex: %w", err)
		}
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case c.sockets < 1 || c.inflight < 1:
		return c, errors.New("-sockets and -inflight must be at least 1")
	case c.sources < 1 || c.sources > 254:
		return c, errors.New("-sources must be 1..254")
	case c.duration <= 0 || c.timeout <= 0 || c.warmup < 0 || c.interval < 0:
		return c, errors.New("-duration and -timeout must be > 0, -warmup and -interval >= 0")
	}
	if _, err := c.request().template(); err != nil {
		return c, err
	}
	var err error
	if c.addr, err = net.ResolveUDPAddr("udp", c.target); err != nil {
		return c, fmt.Errorf("-target: %w", err)
	}
	if c.sources > 1 && (c.addr.IP.To4() == nil || !c.addr.IP.IsLoopback()) {
		return c, errors.New("-sources needs an IPv4 loopback target (127.0.0.0/8 answers on every address)")
	}
	return c, nil
}

// run drives the load and returns the result. It returns a nil result when it could not start
// or the target sent nothing back in its first reachWithin; then socket goroutines may be left
// running, for the caller to exit.
func run(cfg config, progress io.Writer) (*result, error) {
	tmpl, err := cfg.request().template()
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, template: tmpl, closed: map[int]time.Duration{}}
	var contexts []*oscoreContext
	if cfg.oscore != "" {
		if contexts, err = openOSCORE(cfg, r); err != nil {
			return nil, err
		}
	}
	workers := make([]*worker, cfg.sockets)
	for i := range workers {
		c, err := r.dial()
		if err != nil {
			for _, w := range workers[:i] {
				w.conn.Close()
			}
			return nil, err
		}
		workers[i] = newWorker(r, c)
		if contexts != nil {
			workers[i].osc = contexts[i]
		}
	}
	// Timeouts are looked for every tick (see worker.run): a twentieth of the timeout.
	r.tick = min(max(cfg.timeout/20, time.Millisecond), 100*time.Millisecond)
	r.start = time.Now()
	r.warmupEnd, r.end = cfg.warmup, cfg.warmup+cfg.duration

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.run() }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if cfg.interval > 0 {
		go report(r, workers, progress, done)
	}

	select {
	case <-done:
	case <-time.After(reachWithin):
		if !r.received.Load() {
			return nil, unreachable(r)
		}
		<-done
	}
	if !r.received.Load() {
		return nil, unreachable(r)
	}
	res, err := collect(r, workers)
	if contexts != nil {
		// Only now, every socket done: the file stays marked in use if the run is abandoned.
		err = errors.Join(err, saveSequences(seqFile(cfg.oscore), contexts, false))
		res.OSCORE.SeqFirst, res.OSCORE.SeqNext = r.seqFirst, contexts[0].seq
		for _, c := range contexts {
			res.OSCORE.SeqNext = max(res.OSCORE.SeqNext, c.seq)
		}
	}
	return res, err
}

// openOSCORE reads the credentials, one context per socket, claims their sequence numbers
// and prepares the plaintext every request encrypts.
func openOSCORE(cfg config, r *runner) ([]*oscoreContext, error) {
	all, err := loadCredentials(cfg.oscore)
	if err != nil {
		return nil, err
	}
	if len(all) < cfg.sockets {
		return nil, fmt.Errorf("-oscore %s: %d clients for %d sockets; each socket needs its own context", cfg.oscore, len(all), cfg.sockets)
	}
	contexts := all[:cfg.sockets]
	if r.plaintext, err = cfg.request().plaintext(nil); err != nil {
		return nil, err
	}
	// Leave room for an Echo (up to 40 bytes, RFC 9175 section 2.2.1) within CCM's limit.
	if len(r.plaintext)+64 > ccmMaxLen {
		return nil, errors.New("-oscore: request too large")
	}
	if err := claimSequences(seqFile(cfg.oscore), contexts); err != nil {
		return nil, err
	}
	r.seqFirst = contexts[0].seq
	for _, c := range contexts {
		r.seqFirst = min(r.seqFirst, c.seq)
	}
	return contexts, nil
}

func unreachable(r *runner) error {
	why := ""
	if r.refused.Load() {
		why = " (ICMP port unreachable: nothing listens there)"
	}
	return fmt.Errorf("%w: no response of any kind from %s within %v%s", errUnreachable, r.cfg.target, reachWithin, why)
}

// report prints, every interval after the warm-up, the ok responses of that interval and their
// latency percentiles, from the difference between two merged snapshots of the histograms.
func report(r *runner, workers []*worker, out io.Writer, done <-chan struct{}) {
	select {
	case <-time.After(time.Until(r.start.Add(r.warmupEnd))):
	case <-done:
		return
	}
	tick := time.NewTicker(r.cfg.interval)
	defer tick.Stop()
	var prev, cur, d counts
	last := r.now()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		cur = counts{}
		for _, w := range workers {
			cur.add(&w.hist)
		}
		for i := range d {
			d[i] = cur[i] - prev[i]
		}
		prev = cur
		now := r.now()
		n := d.total()
		line, _ := json.Marshal(map[string]any{
			"elapsed": round((now - r.warmupEnd).Seconds(), 3),
			"ok":      n,
			"rps":     round(float64(n)/(now-last).Seconds(), 1),
			"p50_us":  round(d.quantile(0.50)/1e3, 1),
			"p99_us":  round(d.quantile(0.99)/1e3, 1),
		})
		last = now
		fmt.Fprintf(out, "%s\n", line)
	}
}

// collect merges the workers' tallies once they have all finished.
func collect(r *runner, workers []*worker) (*result, error) {
	cfg := r.cfg
	res := &result{
		Target: cfg.target, Path: cfg.path, Sockets: cfg.sockets, Inflight: cfg.inflight,
		Seconds: cfg.duration.Seconds(), Errors: map[string]uint64{"reset": 0},
		Request: requestInfo{
			Type: typeName(cfg.typ), Method: methodName(cfg.code), Query: append([]string{}, cfg.query...),
			PayloadBytes: len(cfg.payload), Bytes: len(r.template),
		},
	}
	if cfg.contentFormat >= 0 {
		cf := cfg.contentFormat
		res.Request.ContentFormat = &cf
	}
	var (
		all          counts
		sum, longest time.Duration
		lastOK       time.Duration = -1
		errs         []error
		byCode       [256]uint64
	)
	if cfg.oscore != "" {
		res.Request.OSCORE = true
		res.Request.Bytes = 0
		res.OSCORE = &oscoreInfo{Contexts: len(workers)}
	}
	for _, w := range workers {
		if res.OSCORE != nil {
			res.OSCORE.EchoChallenges += w.challenges
			for what, n := range w.named {
				res.Errors[what] += n
			}
		}
		res.Requests += w.requests
		res.OK += w.ok
		res.Timeouts += w.timeouts
		res.Stray += w.stray
		res.Rotations += w.rotations
		res.Errors["reset"] += w.resets
		for c, n := range w.errs {
			byCode[c] += n
		}
		all.add(&w.hist)
		sum += w.sum
		longest = max(longest, w.max)
		if w.ok > 0 && w.lastOK > lastOK {
			lastOK, res.PayloadBytes, res.ContentFormat = w.lastOK, w.lastPayload, nil
			if res.OSCORE != nil {
				res.Request.Bytes = w.lastReqBytes
			}
			if w.lastCF >= 0 {
				cf := w.lastCF
				res.ContentFormat = &cf
			}
		}
		if w.err != nil {
			errs = append(errs, w.err)
		}
	}
	for c, n := range byCode {
		if n > 0 {
			res.Errors[codeString(uint8(c))] += n
		}
	}
	res.RPS = round(float64(res.OK)/res.Seconds, 1)
	// A bucket's midpoint may lie above the largest sample in it: report no more than max.
	us := func(ns float64) float64 { return round(math.Min(ns, float64(longest))/1e3, 1) }
	res.Latency = latency{
		P50: us(all.quantile(0.50)), P90: us(all.quantile(0.90)), P99: us(all.quantile(0.99)),
		P999: us(all.quantile(0.999)), Max: us(float64(longest)),
	}
	if res.OK > 0 {
		res.Latency.Mean = round(float64(sum)/float64(res.OK)/1e3, 1)
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("%d socket(s) stopped early: %w", len(errs), errors.Join(errs...))
	}
	return res, nil
}

func round(v float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(v*p) / p
}

func printSummary(out io.Writer, r *result) {
	q := r.Request
	query := ""
	if len(q.Query) > 0 {
		query = "?" + strings.Join(q.Query, "&")
	}
	body := ""
	if q.PayloadBytes > 0 || q.ContentFormat != nil {
		body = fmt.Sprintf("  payload %d bytes", q.PayloadBytes)
		if q.ContentFormat != nil {
			body += fmt.Sprintf(", content-format %d", *q.ContentFormat)
		}
	}
	scheme := ""
	if q.OSCORE {
		scheme = "OSCORE "
	}
	fmt.Fprintf(out, "target %s  %s%s %s /%s%s%s  sockets %d  inflight %d\n", r.Target, scheme, q.Type, q.Method, strings.TrimPrefix(r.Path, "/"), query, body, r.Sockets, r.Inflight)
	fmt.Fprintf(out, "%.2f s measured: %d requests, %d ok = %.1f req/s, %d timeouts, %d stray, %d socket rotations\n",
		r.Seconds, r.Requests, r.OK, r.RPS, r.Timeouts, r.Stray, r.Rotations)
	codes := make([]string, 0, len(r.Errors))
	for c, n := range r.Errors {
		codes = append(codes, fmt.Sprintf("%s=%d", c, n))
	}
	sort.Strings(codes)
	fmt.Fprintf(out, "errors: %s\n", strings.Join(codes, " "))
	l := r.Latency
	fmt.Fprintf(out, "latency µs: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	cf := "none"
	if r.ContentFormat != nil {
		cf = fmt.Sprint(*r.ContentFormat)
	}
	fmt.Fprintf(out, "last ok response: %d payload bytes, content-format %s\n", r.PayloadBytes, cf)
	if o := r.OSCORE; o != nil {
		fmt.Fprintf(out, "OSCORE: %d contexts, %d Echo challenges, sequence numbers %d..%d, last ok request %d bytes\n", o.Contexts, o.EchoChallenges, o.SeqFirst, o.SeqNext-1, q.Bytes)
	}
}
