package main

// AES-CCM (RFC 3610) as OSCORE's default AEAD uses it: AES-CCM-16-64-128 (RFC 8152 section
// 10.2, RFC 8613 section 3.2), that is L = 2 (a 13-byte nonce, messages below 64 KiB) and
// M = 8 (an 8-byte tag) over AES-128. Go's standard library has the block cipher but no CCM.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"slices"
)

const (
	ccmNonceLen = 13
	ccmTagLen   = 8
	ccmL        = 15 - ccmNonceLen // bytes of the length field (section 2)
	ccmMaxLen   = 1<<(8*ccmL) - 1
)

type ccm struct{ b cipher.Block }

func newCCM(key []byte) (ccm, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return ccm{}, err
	}
	return ccm{b}, nil
}

// mac is the CBC-MAC of section 2.2 over B_0, the encoded additional data and the message:
// its first ccmTagLen bytes are T.
func (c ccm) mac(nonce, aad, msg []byte) [16]byte {
	var x, blk [16]byte
	// Flags: Adata, M' = (M-2)/2 in bits 3-5, L' = L-1 in bits 0-2.
	x[0] = (ccmTagLen-2)/2<<3 | (ccmL - 1)
	if len(aad) > 0 {
		x[0] |= 0x40
	}
	copy(x[1:1+ccmNonceLen], nonce)
	x[14], x[15] = byte(len(msg)>>8), byte(len(msg))
	c.b.Encrypt(x[:], x[:])
	chain := func(rest []byte, blk *[16]byte, filled int) {
		for {
			n := copy(blk[filled:], rest)
			rest = rest[n:]
			subtle.XORBytes(x[:], x[:], blk[:])
			c.b.Encrypt(x[:], x[:])
			if len(rest) == 0 {
				return
			}
			*blk, filled = [16]byte{}, 0
		}
	}
	if len(aad) > 0 {
		// 0 < l(a) < 2^16 - 2^8: two bytes of length, then a, zero-padded to a block (section 2.2).
		blk[0], blk[1] = byte(len(aad)>>8), byte(len(aad))
		chain(aad, &blk, 2)
	}
	if len(msg) > 0 {
		blk = [16]byte{}
		chain(msg, &blk, 0)
	}
	return x
}

// ctr XORs src into dst with the key stream blocks S_1, S_2... and returns S_0, which
// encrypts the tag (section 2.3).
func (c ccm) ctr(dst, src, nonce []byte) [16]byte {
	var a, s, s0 [16]byte
	a[0] = ccmL - 1
	copy(a[1:1+ccmNonceLen], nonce)
	c.b.Encrypt(s0[:], a[:])
	for i := 0; i < len(src); i += 16 {
		n := i/16 + 1
		a[14], a[15] = byte(n>>8), byte(n)
		c.b.Encrypt(s[:], a[:])
		subtle.XORBytes(dst[i:min(i+16, len(src))], src[i:min(i+16, len(src))], s[:])
	}
	return s0
}

var errCCMLength = errors.New("ccm: nonce must be 13 bytes and the message below 64 KiB")

// seal appends the ciphertext of plaintext and the encrypted 8-byte tag to dst.
func (c ccm) seal(dst, nonce, plaintext, aad []byte) ([]byte, error) {
	if len(nonce) != ccmNonceLen || len(plaintext) > ccmMaxLen {
		return dst, errCCMLength
	}
	t := c.mac(nonce, aad, plaintext)
	n := len(dst)
	dst = slices.Grow(dst, len(plaintext)+ccmTagLen)[:n+len(plaintext)+ccmTagLen]
	out := dst[n:]
	s0 := c.ctr(out, plaintext, nonce)
	subtle.XORBytes(out[len(plaintext):], t[:ccmTagLen], s0[:ccmTagLen])
	return dst, nil
}

// open appends the plaintext of ciphertext (its last 8 bytes the tag) to dst; false, and dst
// unchanged, when the tag does not verify.
func (c ccm) open(dst, nonce, ciphertext, aad []byte) ([]byte, bool) {
	if len(nonce) != ccmNonceLen || len(ciphertext) < ccmTagLen || len(ciphertext)-ccmTagLen > ccmMaxLen {
		return dst, false
	}
	body, tag := ciphertext[:len(ciphertext)-ccmTagLen], ciphertext[len(ciphertext)-ccmTagLen:]
	n := len(dst)
	dst = slices.Grow(dst, len(body))[:n+len(body)]
	out := dst[n:]
	s0 := c.ctr(out, body, nonce)
	t := c.mac(nonce, aad, out)
	var want [ccmTagLen]byte
	subtle.XORBytes(want[:], t[:ccmTagLen], s0[:ccmTagLen])
	if subtle.ConstantTimeCompare(want[:], tag) != 1 {
		clear(out)
		return dst[:n], false
	}
	return dst, true
}
