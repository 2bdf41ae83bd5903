package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncode(t *testing.T) {
	tok := []byte{0xde, 0xad, 0xbe, 0xef}
	long := func(n int) []byte { return bytes.Repeat([]byte{'a'}, n) }
	for _, tc := range []struct {
		name string
		msg  Message
		want string // hex, or a prefix of it when the value is long
	}{
		// Ver 1, CON, TKL 4 = 0x44; 0.01; MID 0x1234; token; Uri-Path (11) delta 11 length 4.
		{"GET temp", Message{Type: typeCON, Code: codeGET, MID: 0x1234, Token: tok,
			Options: []Option{{optURIPath, []byte("temp")}}}, "44 01 1234 deadbeef b4 74656d70"},
		// Second segment: delta 0 length 5; Accept (17) delta 6, 60 in one byte.
		{"GET gw/stats accept", Message{Type: typeCON, Code: codeGET, MID: 1, Token: tok,
			Options: []Option{{optAccept, []byte{60}}, {optURIPath, []byte("gw")}, {optURIPath, []byte("stats")}}},
			"44 01 0001 deadbeef b2 6777 05 7374617473 61 3c"},
		// Length 13..268: nibble 13 and one byte of length-13 (section 3.1).
		{"length 13", Message{Options: []Option{{optURIPath, long(13)}}}, "40 00 0000 bd 00 " + strings.Repeat("61", 13)},
		{"length 268", Message{Options: []Option{{optURIPath, long(268)}}}, "40 00 0000 bd ff 61"},
		// Length ≥ 269: nibble 14 and two bytes of length-269.
		{"length 300", Message{Options: []Option{{optURIPath, long(300)}}}, "40 00 0000 be 001f 61"},
		// Delta 13..268 and ≥ 269 likewise, for options with empty values.
		{"delta 20", Message{Options: []Option{{20, nil}}}, "40 00 0000 d0 07"},
		{"delta 2000", Message{Options: []Option{{2000, nil}}}, "40 00 0000 e0 06c3"},
		{"delta 14 then 65535", Message{Options: []Option{{14, nil}, {65535, nil}}}, "40 00 0000 d0 01 e0 fee4"},
		// ACK 2.05 (TKL 0) with Content-Format 60 and payload after the 0xFF marker.
		{"ACK payload", Message{Type: typeACK, Code: codeContent, MID: 0xbeef,
			Options: []Option{{optContentFormat, []byte{60}}}, Payload: []byte("hi")}, "60 45 beef c1 3c ff 6869"},
	} {
		got, err := tc.msg.Append(nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := unhex(t, tc.want)
		if !bytes.HasPrefix(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, got, want)
		}
		var back Message
		if err := back.Decode(got); err != nil {
			t.Errorf("%s: decode: %v", tc.name, err)
		} else if again, _ := back.Append(nil); !bytes.Equal(again, got) {
			t.Errorf("%s: round trip %x != %x", tc.name, again, got)
		}
	}
}

func TestRequestTemplate(t *testing.T) {
	got, err := requestTemplate("/gw/stats", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Accept 0 (text/plain) is the empty value (section 3.2).
	if want := unhex(t, "44 01 0000 00000000 b2 6777 05 7374617473 60"); !bytes.Equal(got, want) {
		t.Errorf("got %x want %x", got, want)
	}
	if _, err := requestTemplate(strings.Repeat("x", 256), -1); err == nil {
		t.Error("a 256-byte segment was accepted")
	}
}

func TestRequestShapes(t *testing.T) {
	cbor := []byte{0xa1, 0x64, 0x75, 0x6e, 0x69, 0x74, 0x61, 0x4b} // {"unit":"K"}
	get := func(path string) request { return getRequest(path, -1) }
	for _, tc := range []struct {
		name string
		req  request
		want string
	}{
		// The request loadgen always sent: Ver 1, CON, TKL 4 = 0x44; GET; Uri-Path "temp".
		{"CON GET", get("temp"), "44 01 0000 00000000 b4 74656d70"},
		// NON: type 1 in bits 4-5, 0x54.
		{"NON GET", request{typ: typeNON, code: codeGET, path: "temp", accept: -1, contentFormat: -1},
			"54 01 0000 00000000 b4 74656d70"},
		// FETCH 0.05; Content-Format (12) delta 1 length 1 = 60; marker; the CBOR map.
		{"FETCH CBOR", request{typ: typeCON, code: codeFETCH, path: "temp", accept: -1, contentFormat: 60, payload: cbor},
			"44 05 0000 00000000 b4 74656d70 11 3c ff a164756e6974614b"},
		// Uri-Query (15) delta 4 length 6 "unit=K".
		{"GET query", request{typ: typeCON, code: codeGET, path: "temp", query: []string{"unit=K"}, accept: -1, contentFormat: -1},
			"44 01 0000 00000000 b4 74656d70 46 756e69743d4b"},
		// Everything: Uri-Path 11, 11; Content-Format 12; Uri-Query 15, 15 in the order given;
		// Accept 17 (delta 2); a NON FETCH.
		{"all", request{typ: typeNON, code: codeFETCH, path: "/gw/stats/", query: []string{"b=22", "a=1"}, accept: 60, contentFormat: 60, payload: cbor},
			"54 05 0000 00000000 b2 6777 05 7374617473 11 3c 34 623d3232 03 613d31 21 3c ff a164756e6974614b"},
		// Content-Format 0 (text/plain) is the empty value; an empty query item an empty option.
		{"cf 0, empty query", request{typ: typeCON, code: 0x02, path: "x", query: []string{""}, accept: -1, contentFormat: 0, payload: []byte("hi")},
			"44 02 0000 00000000 b1 78 10 30 ff 6869"},
		// No Uri-Path: Uri-Query is delta 15 (nibble 13, then 15-13), and 255 bytes long (nibble 13, then 255-13).
		{"long query", request{typ: typeCON, code: codeGET, query: []string{strings.Repeat("q", 255)}, accept: -1, contentFormat: -1},
			"44 01 0000 00000000 dd 02 f2 71"},
	} {
		got, err := tc.req.template()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if want := unhex(t, tc.want); !bytes.HasPrefix(got, want) || (tc.name != "long query" && !bytes.Equal(got, want)) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, got, want)
		}
		var m Message
		if err := m.Decode(got); err != nil || m.Type != tc.req.typ || m.Code != tc.req.code || !bytes.Equal(m.Payload, tc.req.payload) {
			t.Errorf("%s: decodes as %+v, %v", tc.name, m, err)
		}
	}
	for name, req := range map[string]request{
		"ACK":                 {typ: typeACK, code: codeGET, accept: -1, contentFormat: -1},
		"RST":                 {typ: typeRST, code: codeGET, accept: -1, contentFormat: -1},
		"empty code":          {typ: typeCON, code: codeEmpty, accept: -1, contentFormat: -1},
		"response code":       {typ: typeCON, code: codeContent, accept: -1, contentFormat: -1},
		"256-byte query":      {typ: typeCON, code: codeGET, query: []string{strings.Repeat("q", 256)}, accept: -1, contentFormat: -1},
		"content-format 2^16": {typ: typeCON, code: codeGET, accept: -1, contentFormat: 65536},
		"accept 2^16":         {typ: typeCON, code: codeGET, accept: 65536, contentFormat: -1},
	} {
		if b, err := req.template(); err == nil {
			t.Errorf("%s: encoded as %x", name, b)
		}
	}
}

func TestParseFlags(t *testing.T) {
	// The flags of before give the same request as before.
	c, err := parseFlags([]string{"-path", "temp", "-accept", "60"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.request().template()
	if want, _ := requestTemplate("temp", 60); !bytes.Equal(got, want) {
		t.Errorf("default request %x, want %x", got, want)
	}
	c, err = parseFlags([]string{"-path", "temp", "-type", "non", "-method", "fetch", "-content-format", "60",
		"-payload-hex", "a1 64 756e6974 61 4b", "-query", "unit=K&&precision=1", "-query", "x="})
	if err != nil {
		t.Fatal(err)
	}
	if c.typ != typeNON || c.code != codeFETCH || c.contentFormat != 60 || hex.EncodeToString(c.payload) != "a164756e6974614b" ||
		strings.Join(c.query, "|") != "unit=K|precision=1|x=" {
		t.Errorf("%+v", c)
	}
	if c, err := parseFlags([]string{"-method", "iPATCH"}); err != nil || c.code != 0x07 || methodName(c.code) != "iPATCH" {
		t.Errorf("iPATCH: %v %v", c.code, err)
	}
	for _, args := range [][]string{
		{"-type", "ACK"}, {"-type", ""}, {"-method", "GETT"}, {"-method", "0.01"}, {"-payload-hex", "a1 6"}, {"-payload-hex", "zz"},
		{"-content-format", "70000"}, {"-query", strings.Repeat("q", 256)},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestDecodeACK(t *testing.T) {
	// ACK, TKL 4, 2.05, MID 0x1234, token, Content-Format (12) = 60, marker, "21.5".
	b := unhex(t, "64 45 1234 01020304 c1 3c ff 32312e35")
	var m Message
	if err := m.Decode(b); err != nil {
		t.Fatal(err)
	}
	if m.Type != typeACK || m.Code != codeContent || codeString(m.Code) != "2.05" || m.MID != 0x1234 {
		t.Errorf("header: type %d code %s mid %#x", m.Type, codeString(m.Code), m.MID)
	}
	if !bytes.Equal(m.Token, []byte{1, 2, 3, 4}) || string(m.Payload) != "21.5" {
		t.Errorf("token %x payload %q", m.Token, m.Payload)
	}
	if cf, ok := m.uintOption(optContentFormat); !ok || cf != 60 {
		t.Errorf("content-format %d %v", cf, ok)
	}
	if _, ok := m.uintOption(optAccept); ok {
		t.Error("found an Accept option that is not there")
	}
	// Extended option delta and length decode, then a two-byte uint value.
	if err := m.Decode(unhex(t, "40 00 0000 d0 07 e2 0001 0102")); err != nil {
		t.Fatal(err)
	}
	if len(m.Options) != 2 || m.Options[0].Number != 20 || m.Options[1].Number != 20+270 {
		t.Fatalf("options %+v", m.Options)
	}
	if v, _ := m.uintOption(290); v != 0x0102 {
		t.Errorf("uint value %#x", v)
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, h := range map[string]string{
		"short":               "40 00 00",
		"version 2":           "80 45 0000",
		"TKL 9":               "49 45 0000 010203040506070809",
		"token truncated":     "44 45 0000 0102",
		"marker, no payload":  "60 45 0000 ff",
		"delta 15":            "60 45 0000 f1 00",
		"length 15":           "60 45 0000 bf",
		"option truncated":    "60 45 0000 b4 7465",
		"extension truncated": "60 45 0000 e0 00",
		"number > 65535":      "60 00 0000 e0 ffff e0 ffff",
	} {
		var m Message
		if err := m.Decode(unhex(t, h)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	for v := uint64(0); v < 2*subCount; v++ {
		if got := bucketMid(bucketOf(v)); got != float64(v) {
			t.Fatalf("small value %d reported as %v", v, got)
		}
	}
	prev := 0
	for v := uint64(1); v < 1<<44; v = v*17/16 + 1 {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucket of %d is %d, below that of a smaller value (%d)", v, i, prev)
		}
		prev = i
		if e := math.Abs(bucketMid(i)-float64(v)) / float64(v); e > 0.004 {
			t.Fatalf("value %d reported as %v: error %.4f", v, bucketMid(i), e)
		}
	}
	if bucketOf(math.MaxUint64) != nBuckets-1 {
		t.Error("a huge value does not clamp to the last bucket")
	}
}

func TestQuantiles(t *testing.T) {
	var h histogram
	// 1..100000 µs in random order: the q-quantile is q*100000 µs.
	for _, v := range rand.Perm(100_000) {
		h.record(int64(v+1) * 1000)
	}
	var c counts
	c.add(&h)
	if c.total() != 100_000 {
		t.Fatalf("total %d", c.total())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := q * 100_000 * 1000
		if got := c.quantile(q); math.Abs(got-want)/want > 0.01 {
			t.Errorf("q%v = %.0f ns, want %.0f ± 1%%", q, got, want)
		}
	}
	// Nearest rank on few exact values: of 1,2,3,4 ns, p50 is 2 and p51 is 3.
	var few histogram
	for v := int64(1); v <= 4; v++ {
		few.record(v)
	}
	var fc counts
	fc.add(&few)
	if fc.quantile(0.5) != 2 || fc.quantile(0.51) != 3 || fc.quantile(0) != 1 {
		t.Errorf("p0 %v p50 %v p51 %v", fc.quantile(0), fc.quantile(0.5), fc.quantile(0.51))
	}
	if (&counts{}).quantile(0.5) != 0 {
		t.Error("empty histogram")
	}
}

// fakeServer answers requests by their first Uri-Path segment: "temp" a 2.05, piggybacked on
// the ACK of a CON request, or for a NON request a NON 2.05 whose own MID is the request's
// plus one, the MID of the client's next request, which may well be outstanding (the response
// must be matched by token, section 5.2.3); "slow" an Empty ACK then a separate CON 2.05
// (section 5.2.2); "reset" a RST; "flaky" only even MIDs; "drop" nothing; "acknon" a
// piggybacked ACK even to a NON request (wrong, section 4.3); anything else 4.04. It records
// every (port, MID) of a request it sees, and every request's bytes with MID and token zeroed.
type fakeServer struct {
	conn       *net.UDPConn
	mu         sync.Mutex
	seen       map[[2]int]bool
	reused     int
	ports      map[int]bool
	clientACKs int
	shapes     map[string]int // hex of a request with MID and token zeroed -> how many
}

func startFake(t *testing.T, network, ip string) *fakeServer {
	c, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Skip("no", network, "loopback:", err)
	}
	s := &fakeServer{conn: c, seen: map[[2]int]bool{}, ports: map[int]bool{}, shapes: map[string]int{}}
	t.Cleanup(func() { c.Close() })
	go s.serve()
	return s
}

func (s *fakeServer) serve() {
	buf := make([]byte, 2048)
	var m Message
	mid := uint16(0)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if m.Decode(buf[:n]) != nil {
			continue
		}
		if m.Type == typeACK && m.Code == codeEmpty {
			s.mu.Lock()
			s.clientACKs++
			s.mu.Unlock()
			continue
		}
		key := [2]int{from.Port, int(m.MID)}
		s.mu.Lock()
		if s.seen[key] {
			s.reused++
		}
		s.seen[key], s.ports[from.Port] = true, true
		shape := append([]byte(nil), buf[:n]...)
		clear(shape[2 : 4+len(m.Token)])
		s.shapes[hex.EncodeToString(shape)]++
		s.mu.Unlock()
		path := ""
		if len(m.Options) > 0 && m.Options[0].Number == optURIPath {
			path = string(m.Options[0].Value)
		}
		reply := func(r Message) {
			b, _ := r.Append(nil)
			s.conn.WriteToUDP(b, from)
		}
		cf := []Option{{optContentFormat, []byte{60}}}
		// The response to a NON request is a NON with a MID of its own (section 5.2.3).
		answer := func(r Message) {
			if m.Type == typeNON {
				r.Type, r.MID = typeNON, m.MID+1
			}
			reply(r)
		}
		switch path {
		case "temp":
			answer(Message{Type: typeACK, Code: codeContent, MID: m.MID, Token: m.Token, Options: cf, Payload: []byte{0xf9, 0x4d, 0x60}})
		case "acknon":
			reply(Message{Type: typeACK, Code: codeContent, MID: m.MID, Token: m.Token, Payload: []byte("x")})
		case "slow":
			reply(Message{Type: typeACK, MID: m.MID})
			mid++
			reply(Message{Type: typeCON, Code: codeContent, MID: mid, Token: m.Token, Payload: []byte("21.5")})
		case "reset":
			reply(Message{Type: typeRST, MID: m.MID})
		case "drop":
		case "flaky": // answers one request in two
			if m.MID%2 == 0 {
				answer(Message{Type: typeACK, Code: codeContent, MID: m.MID, Token: m.Token, Payload: []byte("x")})
			}
		default:
			answer(Message{Type: typeACK, Code: 0x84, MID: m.MID, Token: m.Token, Payload: []byte("Not Found")})
		}
	}
}

func testConfig(s *fakeServer, path string) config {
	addr := s.conn.LocalAddr().(*net.UDPAddr)
	return config{target: addr.String(), addr: addr, path: path, accept: -1, typ: typeCON, code: codeGET, contentFormat: -1,
		sockets: 3, inflight: 4, duration: 300 * time.Millisecond, warmup: 50 * time.Millisecond, timeout: 200 * time.Millisecond}
}

func TestRunAgainstFakeServer(t *testing.T) {
	defer func(n int) { maxMIDs = n }(maxMIDs)
	maxMIDs = 200 // rotate sockets often

	non := func(c *config) { c.typ = typeNON }
	fetch := func(c *config) { // FETCH with the CBOR body {"unit":"K"}
		c.code, c.contentFormat, c.payload = codeFETCH, 60, []byte{0xa1, 0x64, 0x75, 0x6e, 0x69, 0x74, 0x61, 0x4b}
	}
	okAll := func(t *testing.T, r *result, s *fakeServer) {
		if r.OK == 0 || r.OK != r.Requests || r.PayloadBytes != 3 || r.ContentFormat == nil || *r.ContentFormat != 60 {
			t.Errorf("%+v", r)
		}
	}
	for _, tc := range []struct {
		name, path, network, ip string
		mod                     func(*config) // nil: the default CON GET
		check                   func(t *testing.T, r *result, s *fakeServer)
	}{
		{"", "temp", "udp4", "127.0.0.1", nil, func(t *testing.T, r *result, s *fakeServer) {
			okAll(t, r, s)
			if r.Rotations == 0 || len(s.ports) <= 3 {
				t.Errorf("%d rotations, %d ports", r.Rotations, len(s.ports))
			}
			if r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max || r.Latency.Mean <= 0 {
				t.Errorf("latency %+v", r.Latency)
			}
			if q := r.Request; q.Type != "CON" || q.Method != "GET" || len(q.Query) != 0 || q.ContentFormat != nil || q.PayloadBytes != 0 || q.Bytes != 13 {
				t.Errorf("request %+v", q)
			}
		}},
		{"", "temp", "udp6", "::1", nil, func(t *testing.T, r *result, s *fakeServer) {
			if r.OK == 0 || r.OK != r.Requests {
				t.Errorf("%+v", r)
			}
		}},
		{"", "slow", "udp4", "127.0.0.1", nil, func(t *testing.T, r *result, s *fakeServer) {
			if r.OK == 0 || r.OK != r.Requests || r.ContentFormat != nil || r.PayloadBytes != 4 {
				t.Errorf("%+v", r)
			}
			time.Sleep(20 * time.Millisecond)
			s.mu.Lock()
			defer s.mu.Unlock()
			if uint64(s.clientACKs) < r.OK {
				t.Errorf("%d separate responses acknowledged, %d ok", s.clientACKs, r.OK)
			}
		}},
		{"", "flaky", "udp4", "127.0.0.1", nil, func(t *testing.T, r *result, s *fakeServer) {
			if r.OK == 0 || r.Timeouts == 0 || r.Timeouts > r.OK+r.OK/2 {
				t.Errorf("%+v", r)
			}
		}},
		{"", "nope", "udp4", "127.0.0.1", nil, func(t *testing.T, r *result, s *fakeServer) {
			if r.OK != 0 || r.Requests == 0 || r.Errors["4.04"] != r.Requests || r.Latency.P50 != 0 {
				t.Errorf("%+v", r)
			}
		}},
		{"", "reset", "udp4", "127.0.0.1", nil, func(t *testing.T, r *result, s *fakeServer) {
			if r.Requests == 0 || r.Errors["reset"] != r.Requests {
				t.Errorf("%+v", r)
			}
		}},
		// NON: the responses carry MIDs of other outstanding requests; matched by token, one each.
		{"NON", "temp", "udp4", "127.0.0.1", non, func(t *testing.T, r *result, s *fakeServer) {
			okAll(t, r, s)
			if r.Rotations == 0 || r.Request.Type != "NON" {
				t.Errorf("%d rotations, request %+v", r.Rotations, r.Request)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.clientACKs != 0 {
				t.Errorf("%d ACKs sent for NON responses", s.clientACKs)
			}
		}},
		{"NON", "temp", "udp6", "::1", non, okAll},
		// A lost NON (here one in two) is a timeout, never retransmitted.
		{"NON", "flaky", "udp4", "127.0.0.1", non, func(t *testing.T, r *result, s *fakeServer) {
			if r.OK == 0 || r.Timeouts == 0 || r.Timeouts > r.OK+r.OK/2 {
				t.Errorf("%+v", r)
			}
		}},
		{"NON", "nope", "udp4", "127.0.0.1", non, func(t *testing.T, r *result, s *fakeServer) {
			if r.OK != 0 || r.Requests == 0 || r.Errors["4.04"] != r.Requests {
				t.Errorf("%+v", r)
			}
		}},
		{"NON", "reset", "udp4", "127.0.0.1", non, func(t *testing.T, r *result, s *fakeServer) {
			if r.Requests == 0 || r.Errors["reset"] != r.Requests {
				t.Errorf("%+v", r)
			}
		}},
		{"FETCH", "temp", "udp4", "127.0.0.1", fetch, func(t *testing.T, r *result, s *fakeServer) {
			okAll(t, r, s)
			if q := r.Request; q.Method != "FETCH" || q.ContentFormat == nil || *q.ContentFormat != 60 || q.PayloadBytes != 8 || q.Bytes != 13+2+1+8 {
				t.Errorf("request %+v", q)
			}
		}},
		{"NON FETCH", "temp", "udp4", "127.0.0.1", func(c *config) { non(c); fetch(c) }, okAll},
		{"query", "temp", "udp4", "127.0.0.1", func(c *config) { c.query = []string{"unit=K"} }, func(t *testing.T, r *result, s *fakeServer) {
			okAll(t, r, s)
			if q := r.Request; len(q.Query) != 1 || q.Query[0] != "unit=K" || q.Bytes != 13+7 {
				t.Errorf("request %+v", q)
			}
		}},
	} {
		t.Run(strings.TrimSpace(tc.name+" "+tc.path)+"/"+tc.network, func(t *testing.T) {
			s := startFake(t, tc.network, tc.ip)
			cfg := testConfig(s, tc.path)
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			r, err := run(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Every measured request ended one way or another before run returned.
			var errs uint64
			for _, n := range r.Errors {
				errs += n
			}
			if r.Requests != r.OK+errs+r.Timeouts || r.Stray != 0 {
				t.Errorf("requests %d != ok %d + errors %d + timeouts %d, stray %d", r.Requests, r.OK, errs, r.Timeouts, r.Stray)
			}
			want, _ := cfg.request().template()
			s.mu.Lock()
			if s.reused != 0 {
				t.Errorf("%d (port, MID) pairs reused", s.reused)
			}
			if len(s.shapes) != 1 || s.shapes[hex.EncodeToString(want)] == 0 {
				t.Errorf("the server saw %v, want only %x", s.shapes, want)
			}
			s.mu.Unlock()
			tc.check(t, r, s)
		})
	}
}

// A piggybacked ACK to a NON request is not its response (section 4.3): it is stray, and the
// request times out.
func TestRunNONIgnoresACK(t *testing.T) {
	s := startFake(t, "udp4", "127.0.0.1")
	cfg := testConfig(s, "acknon")
	cfg.typ = typeNON
	cfg.duration, cfg.timeout = 200*time.Millisecond, 50*time.Millisecond
	r, err := run(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.OK != 0 || r.Timeouts != r.Requests || r.Stray < r.Requests {
		t.Errorf("%+v", r)
	}
}

func TestRunUnreachable(t *testing.T) {
	s := startFake(t, "udp4", "127.0.0.1")
	cfg := testConfig(s, "drop")
	cfg.duration, cfg.timeout = 100*time.Millisecond, 50*time.Millisecond
	if r, err := run(cfg, nil); !errors.Is(err, errUnreachable) || r != nil {
		t.Errorf("got %+v, %v", r, err)
	}
}
