package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Message types (RFC 7252 section 3).
const (
	typeCON uint8 = 0
	typeNON uint8 = 1
	typeACK uint8 = 2
	typeRST uint8 = 3
)

// Codes as the wire byte class<<5 | detail (RFC 7252 section 3, 12.1).
const (
	codeEmpty   uint8 = 0x00 // 0.00
	codeGET     uint8 = 0x01 // 0.01
	codeFETCH   uint8 = 0x05 // 0.05 (RFC 8132)
	codeContent uint8 = 0x45 // 2.05
)

// methods are the request codes -method accepts: RFC 7252 section 12.1.1 and RFC 8132 section 6.
var methods = map[string]uint8{"GET": 0x01, "POST": 0x02, "PUT": 0x03, "DELETE": 0x04, "FETCH": 0x05, "PATCH": 0x06, "IPATCH": 0x07}

// methodName is the name of a request code, or "c.dd" for one not in methods.
func methodName(c uint8) string {
	for name, v := range methods {
		if v == c {
			if name == "IPATCH" {
				return "iPATCH"
			}
			return name
		}
	}
	return codeString(c)
}

// typeName is "CON", "NON", "ACK" or "RST".
func typeName(t uint8) string { return [...]string{"CON", "NON", "ACK", "RST"}[t&3] }

// Option numbers (RFC 7252 section 5.10).
const (
	optURIPath       = 11
	optContentFormat = 12
	optURIQuery      = 15
	optAccept        = 17
)

// maxOptionLen is the longest value the 14 extended form can carry: 65535 + 269.
const maxOptionLen = 65535 + 269

// Option is one option; Value aliases the datagram after Decode.
type Option struct {
	Number uint16
	Value  []byte
}

// Message is a CoAP message. Decode fills it without allocating once Options has grown, so
// one Message can be reused for every datagram a socket receives.
type Message struct {
	Type    uint8
	Code    uint8
	MID     uint16
	Token   []byte
	Options []Option
	Payload []byte
}

var errFormat = errors.New("coap: message format error")

// codeString renders a code byte as "c.dd" (RFC 7252 section 3: 3-bit class, 5-bit detail).
func codeString(c uint8) string { return fmt.Sprintf("%d.%02d", c>>5, c&0x1f) }

// Append encodes m after b (RFC 7252 section 3): the 4-byte header, the token, the options in
// ascending number order as deltas, then the payload marker 0xFF and the payload if any.
func (m *Message) Append(b []byte) ([]byte, error) {
	if len(m.Token) > 8 {
		return nil, errors.New("coap: token longer than 8 bytes")
	}
	b = append(b, 1<<6|m.Type<<4|uint8(len(m.Token)), m.Code, byte(m.MID>>8), byte(m.MID))
	b = append(b, m.Token...)
	opts := append([]Option(nil), m.Options...)
	sort.SliceStable(opts, func(i, j int) bool { return opts[i].Number < opts[j].Number })
	prev := 0
	for _, o := range opts {
		if len(o.Value) > maxOptionLen {
			return nil, fmt.Errorf("coap: option %d value too long", o.Number)
		}
		delta, n := int(o.Number)-prev, len(o.Value)
		prev = int(o.Number)
		dn, ln := nibble(delta), nibble(n)
		b = append(b, dn<<4|ln)
		b = appendExtended(b, dn, delta)
		b = appendExtended(b, ln, n)
		b = append(b, o.Value...)
	}
	if len(m.Payload) > 0 {
		b = append(b, 0xff)
		b = append(b, m.Payload...)
	}
	return b, nil
}

// nibble is the 4-bit option delta or length field (RFC 7252 section 3.1): the value itself
// below 13, 13 for a one-byte extension (value-13), 14 for a two-byte one (value-269).
func nibble(v int) byte {
	switch {
	case v < 13:
		return byte(v)
	case v < 269:
		return 13
	default:
		return 14
	}
}

func appendExtended(b []byte, n byte, v int) []byte {
	switch n {
	case 13:
		return append(b, byte(v-13))
	case 14:
		v -= 269
		return append(b, byte(v>>8), byte(v))
	}
	return b
}

// extended reads the extension bytes of a delta or length nibble; 15 is reserved (section 3.1).
func extended(n int, b []byte) (int, []byte, bool) {
	switch n {
	case 13:
		if len(b) < 1 {
			return 0, nil, false
		}
		return int(b[0]) + 13, b[1:], true
	case 14:
		if len(b) < 2 {
			return 0, nil, false
		}
		return int(binary.BigEndian.Uint16(b)) + 269, b[2:], true
	case 15:
		return 0, nil, false
	}
	return n, b, true
}

// Decode parses b into m; Token, option values and Payload alias b.
func (m *Message) Decode(b []byte) error {
	if len(b) < 4 || b[0]>>6 != 1 {
		return errFormat
	}
	tkl := int(b[0] & 0x0f)
	if tkl > 8 || len(b) < 4+tkl { // TKL 9-15 are reserved (section 3)
		return errFormat
	}
	m.Type, m.Code, m.MID = b[0]>>4&3, b[1], binary.BigEndian.Uint16(b[2:])
	m.Token = b[4 : 4+tkl]
	m.Options, m.Payload = m.Options[:0], nil
	b = b[4+tkl:]
	num := 0
	for len(b) > 0 {
		if b[0] == 0xff {
			// A marker followed by a zero-length payload is a format error (section 3).
			if len(b) == 1 {
				return errFormat
			}
			m.Payload = b[1:]
			return nil
		}
		d, l, ok := int(b[0]>>4), int(b[0]&0x0f), true
		b = b[1:]
		if d, b, ok = extended(d, b); !ok {
			return errFormat
		}
		if l, b, ok = extended(l, b); !ok || len(b) < l {
			return errFormat
		}
		if num += d; num > 0xffff {
			return errFormat
		}
		m.Options = append(m.Options, Option{uint16(num), b[:l]})
		b = b[l:]
	}
	return nil
}

// uintOption returns the first option number n as an unsigned integer (section 3.2: big-endian,
// leading zero bytes may be left out, zero may be empty) and whether it was present.
func (m *Message) uintOption(n uint16) (uint32, bool) {
	for _, o := range m.Options {
		if o.Number == n {
			v := uint32(0)
			for _, c := range o.Value {
				v = v<<8 | uint32(c)
			}
			return v, true
		}
	}
	return 0, false
}

func uintBytes(v uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, v)
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// tokenLen is the token length of every request; the sender writes the token at bytes 4..7.
const tokenLen = 4

// request describes the request every socket sends, apart from its MID and token.
type request struct {
	typ   uint8 // typeCON or typeNON
	code  uint8 // a method code (codeGET, codeFETCH...)
	path  string
	query []string // one Uri-Query option each, in this order
	// accept and contentFormat < 0 mean no such option.
	accept, contentFormat int
	payload               []byte
}

// getRequest is a CON GET of path with an optional Accept: the request loadgen always sent.
func getRequest(path string, accept int) request {
	return request{typ: typeCON, code: codeGET, path: path, accept: accept, contentFormat: -1}
}

// requestTemplate encodes a CON GET with a zero MID and a zero 4-byte token (see template).
func requestTemplate(path string, accept int) ([]byte, error) {
	return getRequest(path, accept).template()
}

// template encodes q with a zero MID and a zero 4-byte token; the sender patches the MID
// (bytes 2-3) and the token (bytes 4-7) in place for each request, so the hot path neither
// encodes nor allocates. path is split on "/" into Uri-Path options (section 6.4: one option
// per segment, empty segments dropped); each query item is one Uri-Query option (section 6.5),
// after the Uri-Path options, in the order given; the payload follows the 0xFF marker.
func (q request) template() ([]byte, error) {
	m, err := q.message()
	if err != nil {
		return nil, err
	}
	// Append sorts the options stably by number, so the Uri-Query options keep their order.
	return m.Append(nil)
}

// plaintext is q as OSCORE encrypts it (RFC 8613 section 5.3): the code, then the options,
// all Class E here (Uri-Path, Uri-Query, Content-Format, Accept, and an Echo if given), then
// the payload. The outer message carries none of them (section 4.1).
func (q request) plaintext(echo []byte) ([]byte, error) {
	m, err := q.message()
	if err != nil {
		return nil, err
	}
	m.Token = nil
	if echo != nil {
		m.Options = append(m.Options, Option{optEcho, echo})
	}
	b, err := m.Append(nil)
	if err != nil {
		return nil, err
	}
	return append([]byte{q.code}, b[4:]...), nil
}

// message is q with a zero MID and a zero 4-byte token.
func (q request) message() (Message, error) {
	if q.typ != typeCON && q.typ != typeNON {
		return Message{}, fmt.Errorf("a request is CON or NON, not %s", typeName(q.typ))
	}
	if q.code == codeEmpty || q.code>>5 != 0 {
		return Message{}, fmt.Errorf("code %s is not a request method", codeString(q.code))
	}
	m := Message{Type: q.typ, Code: q.code, Token: make([]byte, tokenLen), Payload: q.payload}
	for _, seg := range strings.Split(q.path, "/") {
		if seg == "" {
			continue
		}
		if len(seg) > 255 { // Uri-Path is 0-255 bytes (section 5.10)
			return Message{}, fmt.Errorf("path segment longer than 255 bytes: %.20q...", seg)
		}
		m.Options = append(m.Options, Option{optURIPath, []byte(seg)})
	}
	for _, item := range q.query {
		if len(item) > 255 { // Uri-Query is 0-255 bytes (section 5.10)
			return Message{}, fmt.Errorf("query item longer than 255 bytes: %.20q...", item)
		}
		m.Options = append(m.Options, Option{optURIQuery, []byte(item)})
	}
	for _, o := range []struct {
		name   string
		number uint16
		value  int
	}{{"accept", optAccept, q.accept}, {"content-format", optContentFormat, q.contentFormat}} {
		if o.value < 0 {
			continue
		}
		if o.value > 0xffff {
			return Message{}, fmt.Errorf("%s %d out of range 0-65535", o.name, o.value)
		}
		m.Options = append(m.Options, Option{o.number, uintBytes(uint32(o.value))})
	}
	return m, nil
}
