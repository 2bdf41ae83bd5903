package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// RFC 3610 section 8, packet vectors #1 and #2: M = 8, L = 2, 8 bytes of additional data.
func TestCCMRFC3610(t *testing.T) {
	key := unhex(t, "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")
	for _, tc := range []struct{ nonce, packet, want string }{
		{"00000003020100a0a1a2a3a4a5", "0001020304050607 08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
			"0001020304050607 588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"},
		{"00000004030201a0a1a2a3a4a5", "0001020304050607 08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"0001020304050607 72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3ba091d56e10400916"},
	} {
		c, err := newCCM(key)
		if err != nil {
			t.Fatal(err)
		}
		nonce, packet, want := unhex(t, tc.nonce), unhex(t, tc.packet), unhex(t, tc.want)
		aad, msg := packet[:8], packet[8:]
		got, err := c.seal(append([]byte(nil), aad...), nonce, msg, aad)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("seal %s:\n got %x\nwant %x (%v)", tc.nonce, got, want, err)
		}
		plain, ok := c.open(nil, nonce, want[8:], aad)
		if !ok || !bytes.Equal(plain, msg) {
			t.Errorf("open %s: %x %v", tc.nonce, plain, ok)
		}
		for _, i := range []int{8, len(want) - 1} { // a ciphertext byte, a tag byte
			bad := append([]byte(nil), want...)
			bad[i] ^= 1
			if p, ok := c.open([]byte{7}, nonce, bad[8:], aad); ok || !bytes.Equal(p, []byte{7}) {
				t.Errorf("open accepted a flipped byte %d", i)
			}
		}
	}
}

// vectors is fixtures/oscore/test-vectors/rfc8613-appendix-c.json, the RFC's Appendix C.
type vectors struct {
	KeyDerivation map[string]struct {
		MasterSecret, MasterSalt string
		IDContext                *string
		Client, Server           struct {
			SenderID, RecipientID, SenderKey, RecipientKey, CommonIV, SenderNonce, RecipientNonce string
		}
	}
	Requests map[string]struct {
		Context                                              string
		Sequence                                             uint64
		AAD, Plaintext, Nonce, Option, Ciphertext, Protected string
	}
	Responses map[string]struct {
		Context, Request            string
		Plaintext, Nonce, Protected string
		OwnPIV                      bool `json:"ownPiv"`
	}
}

func loadVectors(t *testing.T) vectors {
	raw, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "oscore", "test-vectors", "rfc8613-appendix-c.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// clientContext derives the client's side of an Appendix C context.
func clientContext(t *testing.T, v vectors, id string) *oscoreContext {
	k := v.KeyDerivation[id]
	var idc []byte
	if k.IDContext != nil {
		idc = unhex(t, *k.IDContext)
	}
	c, err := deriveContext(id, unhex(t, k.Client.SenderID), unhex(t, k.Client.RecipientID), unhex(t, k.MasterSecret), unhex(t, k.MasterSalt), idc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOSCOREAppendixC(t *testing.T) {
	v := loadVectors(t)
	for _, id := range []string{"C.1", "C.2", "C.3"} {
		k := v.KeyDerivation[id]
		var idc []byte
		if k.IDContext != nil {
			idc = unhex(t, *k.IDContext)
		}
		secret, salt := unhex(t, k.MasterSecret), unhex(t, k.MasterSalt)
		for name, got := range map[string][]byte{
			k.Client.SenderKey:    hkdfSHA256(secret, salt, kdfInfo(unhex(t, k.Client.SenderID), idc, "Key", 16), 16),
			k.Client.RecipientKey: hkdfSHA256(secret, salt, kdfInfo(unhex(t, k.Client.RecipientID), idc, "Key", 16), 16),
		} {
			if hex.EncodeToString(got) != name {
				t.Errorf("%s: key %x, want %s", id, got, name)
			}
		}
		c := clientContext(t, v, id)
		if hex.EncodeToString(c.commonIV[:]) != k.Client.CommonIV {
			t.Errorf("%s: common IV %x", id, c.commonIV)
		}
		piv, n := partialIV(0)
		if s, r := c.nonce(c.senderID, piv[:n]), c.nonce(c.recipientID, piv[:n]); hex.EncodeToString(s[:]) != k.Client.SenderNonce || hex.EncodeToString(r[:]) != k.Client.RecipientNonce {
			t.Errorf("%s: nonces %x %x", id, s, r)
		}
	}

	for _, id := range []string{"C.4", "C.5", "C.6"} {
		r := v.Requests[id]
		c := clientContext(t, v, r.Context)
		piv, n := partialIV(r.Sequence)
		if got := encStructure(nil, c.senderID, piv[:n]); hex.EncodeToString(got) != r.AAD {
			t.Errorf("%s: AAD %x", id, got)
		}
		c.seq = r.Sequence
		b, seq, err := c.protect(nil, typeCON, 0x5d1f, 0x3974, unhex(t, r.Plaintext))
		if err != nil || seq != r.Sequence || c.seq != r.Sequence+1 {
			t.Fatalf("%s: seq %d next %d %v", id, seq, c.seq, err)
		}
		var m Message
		if err := m.Decode(b); err != nil || m.Type != typeCON || m.Code != codePOST || len(m.Options) != 1 || m.Options[0].Number != optOSCORE {
			t.Fatalf("%s: %x %+v %v", id, b, m, err)
		}
		// The vectors' outer message also has Uri-Host (Class U); the OSCORE option and the
		// ciphertext are what protection adds.
		if hex.EncodeToString(m.Options[0].Value) != r.Option || hex.EncodeToString(m.Payload) != r.Ciphertext {
			t.Errorf("%s: option %x ciphertext %x\nwant %s %s", id, m.Options[0].Value, m.Payload, r.Option, r.Ciphertext)
		}
	}

	for _, id := range []string{"C.7", "C.8"} {
		r := v.Responses[id]
		c := clientContext(t, v, r.Context)
		var m Message
		if err := m.Decode(unhex(t, r.Protected)); err != nil {
			t.Fatal(err)
		}
		plain, problem := c.unprotect(nil, &m, v.Requests[r.Request].Sequence)
		if problem != "" || hex.EncodeToString(plain) != r.Plaintext {
			t.Errorf("%s: plaintext %x %q, want %s", id, plain, problem, r.Plaintext)
		}
		var inner Message
		if _, err := innerMessage(nil, plain, &inner); err != nil || inner.Code != codeContent || string(inner.Payload) != "Hello World!" {
			t.Errorf("%s: inner %+v %v", id, inner, err)
		}
		// Bound to its request (section 7.1): under another request's Partial IV it fails.
		if _, problem := c.unprotect(nil, &m, 21); problem == "" {
			t.Errorf("%s: verified for the wrong request", id)
		}
	}
}

// fakeOSCOREServer is a minimal OSCORE server (RFC 8613 section 8.2 and 8.3) for the run
// test: it derives the server side of each context, challenges the first requests of a
// context with Echo until one returns it (Appendix B.1.2), then answers 2.05 under the
// request's nonce, and counts every (kid, sequence number) seen twice.
type fakeOSCOREServer struct {
	conn     *net.UDPConn
	byKid    map[string]*fakeContext
	mu       sync.Mutex
	reused   int
	seen     map[string]bool
	unparsed int
}

type fakeContext struct {
	c           *oscoreContext // the server's side: sender and recipient swapped
	echoes      [][]byte       // issued, all valid, as a server keeps a few (the gateway 4)
	initialized bool
	ownSeq      uint64
}

func startFakeOSCORE(t *testing.T, clients map[string]settings) *fakeOSCOREServer {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skip(err)
	}
	s := &fakeOSCOREServer{conn: c, byKid: map[string]*fakeContext{}, seen: map[string]bool{}}
	for name, cl := range clients {
		server := cl
		server.SenderID, server.RecipientID = cl.RecipientID, cl.SenderID
		ctx, err := server.context(name)
		if err != nil {
			t.Fatal(err)
		}
		s.byKid[string(ctx.recipientID)] = &fakeContext{c: ctx}
	}
	t.Cleanup(func() { c.Close() })
	go s.serve()
	return s
}

func (s *fakeOSCOREServer) serve() {
	buf := make([]byte, 2048)
	var m, inner Message
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		reply, ok := s.answer(buf[:n], &m, &inner)
		if !ok {
			s.unparsed++
		}
		s.mu.Unlock()
		if reply != nil {
			s.conn.WriteToUDP(reply, from)
		}
	}
}

func (s *fakeOSCOREServer) answer(b []byte, m, inner *Message) ([]byte, bool) {
	if m.Decode(b) != nil || m.Code != codePOST || len(m.Options) != 1 || m.Options[0].Number != optOSCORE {
		return nil, false
	}
	v := m.Options[0].Value
	if len(v) < 2 || v[0]&0x08 == 0 || v[0]&0x10 != 0 {
		return nil, false
	}
	piv, kid := v[1:1+int(v[0]&7)], v[1+int(v[0]&7):]
	ctx := s.byKid[string(kid)]
	if ctx == nil {
		return nil, false
	}
	key := hex.EncodeToString(kid) + "/" + hex.EncodeToString(piv)
	if s.seen[key] {
		s.reused++
	}
	s.seen[key] = true
	nonce := ctx.c.nonce(kid, piv)
	aad := encStructure(nil, kid, piv)
	plain, ok := ctx.c.recipient.open(nil, nonce[:], m.Payload, aad)
	if !ok || inner.Decode(append([]byte{0x40, plain[0], 0, 0}, plain[1:]...)) != nil {
		return nil, false
	}
	hdr := []byte{1<<6 | typeACK<<4 | uint8(len(m.Token)), codeChanged, byte(m.MID >> 8), byte(m.MID)}
	hdr = append(hdr, m.Token...)
	echo, hasEcho := echoOf(inner)
	if !ctx.initialized && !(hasEcho && slices.ContainsFunc(ctx.echoes, func(e []byte) bool { return bytes.Equal(e, echo) })) {
		// A protected 4.01 with Echo under the server's own Partial IV.
		value := []byte{1, 2, 3, 4, 5, 6, 7, byte(ctx.ownSeq)}
		ctx.echoes = append(ctx.echoes, value)
		own, n := partialIV(ctx.ownSeq)
		ctx.ownSeq++
		pt, _ := (&Message{Code: codeUnauth, Options: []Option{{optEcho, value}}}).Append(nil)
		pt = append([]byte{codeUnauth}, pt[4:]...)
		on := ctx.c.nonce(ctx.c.senderID, own[:n])
		out := append(append(hdr, optOSCORE<<4|byte(1+n), byte(n)), own[:n]...)
		out, _ = ctx.c.sender.seal(append(out, 0xff), on[:], pt, aad)
		return out, true
	}
	ctx.initialized = true
	pt, _ := (&Message{Code: codeContent, Options: []Option{{optContentFormat, []byte{60}}}, Payload: []byte{0xf9, 0x4d, 0x60}}).Append(nil)
	pt = append([]byte{codeContent}, pt[4:]...)
	out, _ := ctx.c.sender.seal(append(hdr, optOSCORE<<4, 0xff), nonce[:], pt, aad)
	return out, true
}

func TestRunOSCORE(t *testing.T) {
	clients := map[string]settings{}
	for i, name := range []string{"a", "b", "c", "d"} {
		clients[name] = settings{SenderID: hex.EncodeToString([]byte{byte(i)}), RecipientID: "", Secret: "0102030405060708090a0b0c0d0e0f10", Salt: "9e7ca92223786340"}
	}
	file := filepath.Join(t.TempDir(), "clients.json")
	raw, _ := json.Marshal(map[string]any{"clients": clients})
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startFakeOSCORE(t, clients)
	cfg := testConfig(&fakeServer{conn: s.conn}, "temp")
	cfg.oscore, cfg.sockets, cfg.inflight = file, 3, 2
	for run := 0; run < 2; run++ {
		// A new server each run: its replay windows are unknown again, so Echo again.
		s.mu.Lock()
		for _, c := range s.byKid {
			c.initialized, c.echoes = false, nil
		}
		s.mu.Unlock()
		r, err := run1(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK == 0 || r.OK != r.Requests || r.PayloadBytes != 3 || !r.Request.OSCORE || r.Request.Bytes == 0 {
			t.Errorf("run %d: %+v", run, r)
		}
		// Each context's numbers continue from the last run (the server counts any reuse).
		if o := r.OSCORE; o == nil || o.Contexts != 3 || o.EchoChallenges < 3 || o.EchoChallenges > 6 || (o.SeqFirst == 0) != (run == 0) {
			t.Errorf("run %d: %+v", run, o)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reused != 0 || s.unparsed != 0 {
		t.Errorf("%d sequence numbers reused, %d requests not understood", s.reused, s.unparsed)
	}
	// A run that dies leaves the file in use: the next one skips far ahead rather than reuse.
	raw, _ = os.ReadFile(seqFile(file))
	var st seqState
	if json.Unmarshal(raw, &st) != nil || st.InUse || st.Next["a"] == 0 {
		t.Fatalf("state %s", raw)
	}
	st.InUse = true
	raw, _ = json.Marshal(st)
	os.WriteFile(seqFile(file), raw, 0o600)
	ctxs, _ := loadCredentials(file)
	if err := claimSequences(seqFile(file), ctxs); err != nil || ctxs[0].seq != st.Next["a"]+seqSkipAfterCrash {
		t.Errorf("after a crash: %d, %v", ctxs[0].seq, err)
	}
	cfg.sockets = 5
	if _, err := run(cfg, nil); err == nil {
		t.Error("5 sockets on 4 contexts accepted")
	}
}

func run1(t *testing.T, cfg config) (*result, error) {
	t.Helper()
	r, err := run(cfg, nil)
	if err == nil {
		var errs uint64
		for _, n := range r.Errors {
			errs += n
		}
		if r.Requests != r.OK+errs+r.Timeouts {
			t.Errorf("requests %d != ok %d + errors %d + timeouts %d", r.Requests, r.OK, errs, r.Timeouts)
		}
	}
	return r, err
}

// The load generator's own cost per OSCORE exchange (protect a request, verify its response),
// to set against the gateway's: go test -run - -bench OSCORE. The loop also seals each
// response as the server would, so it is an upper bound.
func BenchmarkOSCOREExchange(b *testing.B) {
	client, err := deriveContext("c", []byte{1}, nil, bytes.Repeat([]byte{7}, 16), []byte{1, 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	server, _ := deriveContext("s", nil, []byte{1}, bytes.Repeat([]byte{7}, 16), []byte{1, 2}, nil)
	plain, _ := getRequest("temp", -1).plaintext(nil)
	payload := bytes.Repeat([]byte{0x61}, 52)
	rp, _ := (&Message{Code: codeContent, Options: []Option{{optContentFormat, []byte{60}}}, Payload: payload}).Append(nil)
	rp = append([]byte{codeContent}, rp[4:]...)
	var req, pt, inner []byte
	var m, im Message
	for i := 0; i < b.N; i++ {
		var seq uint64
		req, seq, _ = client.protect(req[:0], typeCON, uint16(i), uint32(i), plain)
		piv, n := partialIV(seq)
		nonce := server.nonce(client.senderID, piv[:n])
		res := append(req[:0:0], 0x64, codeChanged, 0, 0, 0, 0, 0, 0, optOSCORE<<4, 0xff)
		res, _ = server.sender.seal(res, nonce[:], rp, encStructure(nil, client.senderID, piv[:n]))
		if m.Decode(res) != nil {
			b.Fatal("decode")
		}
		var problem string
		if pt, problem = client.unprotect(pt[:0], &m, seq); problem != "" {
			b.Fatal(problem)
		}
		inner, _ = innerMessage(inner, pt, &im)
	}
}
