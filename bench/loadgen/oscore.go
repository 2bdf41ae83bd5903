package main

// OSCORE (RFC 8613) on the client side, with the default algorithms only: AES-CCM-16-64-128
// (ccm.go) and HKDF-SHA-256 (section 3.2). Each socket has a security context of its own, so
// its requests reach the server's replay window (section 7.4, 32 numbers by default) in
// sequence order.
//
//	outer request:  CON POST, token, OSCORE option (flags | Partial IV | kid), 0xFF, ciphertext
//	ciphertext:     AES-CCM( code GET | Uri-Path... Accept... [Echo] ) + 8-byte tag   (section 5.3)
//	outer response: ACK 2.04, token, OSCORE option (empty: the request's nonce), 0xFF, ciphertext
//
// After a start the server knows no replay window (Appendix B.1.2): the first request of a
// context is answered with a protected 4.01 carrying an Echo option (RFC 9175), and the
// context repeats its requests with that Echo until one is answered.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Option numbers: OSCORE (RFC 8613 section 2), Echo (RFC 9175 section 2.2.1).
const (
	optOSCORE = 9
	optEcho   = 252
)

const (
	codePOST    uint8 = 0x02 // 0.02, the outer code of a request without Observe (section 4.2)
	codeChanged uint8 = 0x44 // 2.04, the outer code of a response without Observe
	codeUnauth  uint8 = 0x81 // 4.01
	algAESCCM         = 10   // COSE algorithm AES-CCM-16-64-128
	// maxSeq is the largest Sender Sequence Number: a Partial IV is at most 5 bytes (section 7.2.1).
	maxSeq = 1<<40 - 1
	// maxIDLen is the nonce length minus 6 (section 3.3).
	maxIDLen   = ccmNonceLen - 6
	maxClients = 256
)

// settings are one client's pre-shared parameters (section 3.1) as aiocoap's settings.json
// names them, from the client's point of view.
type settings struct {
	SenderID    string `json:"sender-id_hex"`
	RecipientID string `json:"recipient-id_hex"`
	Secret      string `json:"secret_hex"`
	Salt        string `json:"salt_hex"`
	IDContext   string `json:"id-context_hex"`
	Algorithm   string `json:"algorithm"`
	KDFHash     string `json:"kdf-hashfun"`
}

// oscoreContext is one client security context (section 3) and its Sender Sequence Number.
type oscoreContext struct {
	name                             string
	senderID, recipientID, idContext []byte
	sender, recipient                ccm // keyed with the Sender Key, the Recipient Key
	commonIV                         [ccmNonceLen]byte
	seq                              uint64 // the next Sender Sequence Number; never reused
	// echo is the value of the server's last Echo challenge, sent in every request until one
	// carrying it is answered (the server's replay window is then known).
	echo []byte
}

// hkdfSHA256 is RFC 5869's extract-and-expand.
func hkdfSHA256(secret, salt, info []byte, length int) []byte {
	ext := hmac.New(sha256.New, salt) // an empty salt is HashLen zeros once HMAC pads it (section 2.2)
	ext.Write(secret)
	prk := ext.Sum(nil)
	var out, t []byte
	for i := byte(1); len(out) < length; i++ {
		h := hmac.New(sha256.New, prk)
		h.Write(t)
		h.Write(info)
		h.Write([]byte{i})
		t = h.Sum(nil)
		out = append(out, t...)
	}
	return out[:length]
}

// cborBytes appends a CBOR byte string (RFC 8949 section 3.1, major type 2), short forms only.
func cborBytes(b, v []byte) []byte {
	if len(v) < 24 {
		b = append(b, 0x40|byte(len(v)))
	} else {
		b = append(b, 0x58, byte(len(v)))
	}
	return append(b, v...)
}

// kdfInfo is section 3.2.1's info: [id, id_context or null, alg_aead, type, L].
func kdfInfo(id, idContext []byte, typ string, length int) []byte {
	b := cborBytes([]byte{0x85}, id)
	if idContext == nil {
		b = append(b, 0xf6)
	} else {
		b = cborBytes(b, idContext)
	}
	b = append(b, algAESCCM, 0x60|byte(len(typ)))
	return append(append(b, typ...), byte(length)) // 16 and 13 are below 24: one byte
}

func deriveContext(name string, senderID, recipientID, secret, salt, idContext []byte) (*oscoreContext, error) {
	c := &oscoreContext{name: name, senderID: senderID, recipientID: recipientID, idContext: idContext}
	var err error
	if c.sender, err = newCCM(hkdfSHA256(secret, salt, kdfInfo(senderID, idContext, "Key", 16), 16)); err != nil {
		return nil, err
	}
	if c.recipient, err = newCCM(hkdfSHA256(secret, salt, kdfInfo(recipientID, idContext, "Key", 16), 16)); err != nil {
		return nil, err
	}
	// The Common IV is derived with the empty byte string as id (section 3.2.1).
	copy(c.commonIV[:], hkdfSHA256(secret, salt, kdfInfo(nil, idContext, "IV", ccmNonceLen), ccmNonceLen))
	return c, nil
}

func (s settings) context(name string) (*oscoreContext, error) {
	if s.Algorithm != "" && s.Algorithm != "AES-CCM-16-64-128" || s.KDFHash != "" && s.KDFHash != "sha256" {
		return nil, fmt.Errorf("%s: only AES-CCM-16-64-128 and sha256", name)
	}
	field := func(key, v string) ([]byte, error) {
		b, err := hex.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, key, err)
		}
		return b, nil
	}
	sid, err1 := field("sender-id_hex", s.SenderID)
	rid, err2 := field("recipient-id_hex", s.RecipientID)
	secret, err3 := field("secret_hex", s.Secret)
	salt, err4 := field("salt_hex", s.Salt)
	ctx, err5 := field("id-context_hex", s.IDContext)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, err
	}
	switch {
	case len(secret) == 0:
		return nil, fmt.Errorf("%s: secret_hex is missing", name)
	case len(sid) > maxIDLen || len(rid) > maxIDLen:
		return nil, fmt.Errorf("%s: a sender or recipient ID is at most %d bytes (RFC 8613 section 3.3)", name, maxIDLen)
	case bytes.Equal(sid, rid):
		return nil, fmt.Errorf("%s: sender-id and recipient-id must differ (RFC 8613 section 3.3)", name)
	case len(ctx) > 255:
		return nil, fmt.Errorf("%s: id-context longer than 255 bytes", name)
	}
	if s.IDContext == "" {
		ctx = nil
	}
	return deriveContext(name, sid, rid, secret, salt, ctx)
}

// loadCredentials reads `{"clients": {"<name>": {settings}}}` (the gateway's credentials
// format, here from the clients' point of view) and returns the contexts in name order, with
// their sequence numbers from the state file.
func loadCredentials(file string) ([]*oscoreContext, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var f struct {
		Clients map[string]settings `json:"clients"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a misspelt key would derive other keys, and every request would fail to verify
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(f.Clients) == 0 || len(f.Clients) > maxClients {
		return nil, fmt.Errorf("%s: %d clients, 1 to %d expected", file, len(f.Clients), maxClients)
	}
	names := make([]string, 0, len(f.Clients))
	for name := range f.Clients {
		names = append(names, name)
	}
	sort.Strings(names)
	contexts := make([]*oscoreContext, len(names))
	for i, name := range names {
		if contexts[i], err = f.Clients[name].context(name); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return contexts, nil
}

// The Sender Sequence Numbers persist in <credentials>.seq between runs, so that no number is
// used twice with the same key (section 7.2.1): a run marks the file in use when it starts and
// writes its next numbers when it ends. A file still marked in use (a run that died) makes the
// next run skip far ahead instead (as section 7.5.1 does after a reboot).
type seqState struct {
	InUse bool              `json:"inUse"`
	Next  map[string]uint64 `json:"next"`
}

// seqSkipAfterCrash is more than any context sends in one run (about 10^4 per 10-s run).
const seqSkipAfterCrash = 1 << 24

func seqFile(credentials string) string { return credentials + ".seq" }

// claimSequences sets each context's next number from the state file and marks it in use.
func claimSequences(file string, contexts []*oscoreContext) error {
	var st seqState
	switch raw, err := os.ReadFile(file); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	for _, c := range contexts {
		c.seq = st.Next[c.name]
		if st.InUse {
			c.seq += seqSkipAfterCrash
		}
		if c.seq > maxSeq-seqSkipAfterCrash {
			return fmt.Errorf("%s: context %s has used its sequence numbers; new credentials needed", file, c.name)
		}
	}
	return saveSequences(file, contexts, true)
}

func saveSequences(file string, contexts []*oscoreContext, inUse bool) error {
	st := seqState{InUse: inUse, Next: map[string]uint64{}}
	for _, c := range contexts {
		st.Next[c.name] = c.seq
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// partialIV is the sequence number big-endian without leading zero bytes, 0 as one byte (section 6.1).
func partialIV(seq uint64) ([5]byte, int) {
	var b [5]byte
	n := 1
	for v := seq >> 8; v > 0; v >>= 8 {
		n++
	}
	for i := 0; i < n; i++ {
		b[i] = byte(seq >> (8 * (n - 1 - i)))
	}
	return b, n
}

// nonce is section 5.2's: the length of ID_PIV, ID_PIV and the Partial IV, each left-padded,
// XORed with the Common IV. ID_PIV is the Sender ID of whoever chose the Partial IV.
func (c *oscoreContext) nonce(idPIV, piv []byte) [ccmNonceLen]byte {
	var n [ccmNonceLen]byte
	n[0] = byte(len(idPIV))
	copy(n[ccmNonceLen-5-len(idPIV):], idPIV)
	copy(n[ccmNonceLen-len(piv):], piv)
	for i := range n {
		n[i] ^= c.commonIV[i]
	}
	return n
}

// encStructure appends the AAD (section 5.4): ["Encrypt0", h”, bstr(external_aad)] with
// external_aad = [1, [alg_aead], request_kid, request_piv, h”], the kid and Partial IV being
// those of the request, for the request and its response alike.
func encStructure(b, kid, piv []byte) []byte {
	var aad [32]byte
	ext := cborBytes(append(aad[:0], 0x85, 0x01, 0x81, algAESCCM), kid)
	ext = append(cborBytes(ext, piv), 0x40)
	b = append(b, 0x83, 0x68, 'E', 'n', 'c', 'r', 'y', 'p', 't', '0', 0x40)
	return cborBytes(b, ext)
}

// protect appends the protected request for plaintext (section 8.1): the header with the
// outer code POST, the OSCORE option with the context's next Partial IV and its kid, the
// ciphertext as payload. It returns the sequence number used.
func (c *oscoreContext) protect(b []byte, typ uint8, mid uint16, token uint32, plaintext []byte) ([]byte, uint64, error) {
	if c.seq > maxSeq {
		return b, 0, errors.New("oscore: sequence numbers exhausted")
	}
	seq := c.seq
	c.seq++
	piv, n := partialIV(seq)
	b = append(b, 1<<6|typ<<4|tokenLen, codePOST, byte(mid>>8), byte(mid), byte(token>>24), byte(token>>16), byte(token>>8), byte(token))
	// The option value (section 6.1): flags |0 0 0|h|k| n |, Partial IV, [s, kid context], kid.
	optLen := 1 + n + len(c.senderID)
	flags := byte(n) | 0x08
	if c.idContext != nil {
		optLen += 1 + len(c.idContext)
		flags |= 0x10
	}
	dn, ln := nibble(optOSCORE), nibble(optLen)
	b = appendExtended(append(b, dn<<4|ln), ln, optLen)
	b = append(b, flags)
	b = append(b, piv[:n]...)
	if c.idContext != nil {
		b = append(append(b, byte(len(c.idContext))), c.idContext...)
	}
	b = append(append(b, c.senderID...), 0xff)
	nonce := c.nonce(c.senderID, piv[:n])
	var aadBuf [64]byte
	b, err := c.sender.seal(b, nonce[:], plaintext, encStructure(aadBuf[:0], c.senderID, piv[:n]))
	return b, seq, err
}

// unprotect verifies the response m to the request with sequence number reqSeq (section 8.4)
// and appends its plaintext to dst; problem is empty on success, else what went wrong, as the
// error tally names it.
func (c *oscoreContext) unprotect(dst []byte, m *Message, reqSeq uint64) (plaintext []byte, problem string) {
	var value []byte
	found := 0
	for _, o := range m.Options {
		if o.Number == optOSCORE {
			value, found = o.Value, found+1
		}
	}
	switch {
	case found == 0:
		// Section 8.2's errors come back unprotected, their diagnostic as payload.
		diag := string(m.Payload[:min(len(m.Payload), 40)])
		if i := strings.IndexByte(diag, '('); i > 0 {
			diag = diag[:i]
		}
		return dst, strings.TrimSpace(codeString(m.Code) + " unprotected " + diag)
	case found > 1:
		return dst, "oscore: option repeated"
	case m.Code != codeChanged:
		return dst, "oscore: outer " + codeString(m.Code)
	}
	reqPIV, rn := partialIV(reqSeq)
	var piv, kid []byte
	if len(value) > 0 { // empty: no Partial IV, no kid (section 6.1)
		flags := value[0]
		n := int(flags & 7)
		rest := value[1:]
		if flags&0xe0 != 0 || n > 5 || len(rest) < n {
			return dst, "oscore: bad option"
		}
		piv, rest = rest[:n], rest[n:]
		if flags&0x10 != 0 {
			if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
				return dst, "oscore: bad option"
			}
			rest = rest[1+int(rest[0]):]
		}
		if flags&0x08 != 0 {
			kid = rest
		} else if len(rest) > 0 {
			return dst, "oscore: bad option"
		}
		if kid != nil && !bytes.Equal(kid, c.recipientID) {
			return dst, "oscore: other kid"
		}
		if n == 0 {
			piv = nil
		}
	}
	var nonce [ccmNonceLen]byte
	if piv != nil {
		nonce = c.nonce(c.recipientID, piv) // the server's own Partial IV
	} else {
		nonce = c.nonce(c.senderID, reqPIV[:rn]) // the request's nonce (section 5.2)
	}
	var aadBuf [64]byte
	out, ok := c.recipient.open(dst, nonce[:], m.Payload, encStructure(aadBuf[:0], c.senderID, reqPIV[:rn]))
	if !ok {
		return dst, "oscore: response did not verify"
	}
	if len(out) == len(dst) {
		return dst, "oscore: empty plaintext"
	}
	return out, ""
}

// innerMessage decodes a verified plaintext (section 5.3: code, options, 0xFF and payload)
// into m, through the CoAP decoder behind a synthetic 4-byte header built in buf.
func innerMessage(buf []byte, plaintext []byte, m *Message) ([]byte, error) {
	buf = append(append(buf[:0], 1<<6, plaintext[0], 0, 0), plaintext[1:]...)
	if err := m.Decode(buf); err != nil {
		return buf, err
	}
	if m.Code>>5 < 2 { // a response code, classes 2 to 5 (RFC 7252 section 12.1.2)
		return buf, errFormat
	}
	return buf, nil
}

// echoOf returns the Echo option of m, if any.
func echoOf(m *Message) ([]byte, bool) {
	for _, o := range m.Options {
		if o.Number == optEcho {
			return o.Value, true
		}
	}
	return nil, false
}
