/**
 * The COSE_Encrypt0 object of OSCORE (RFC 8613 section 5): the AEAD nonce (5.2), the
 * external_aad and the Enc_structure used as AAD (5.4), and AES-CCM-16-64-128 itself
 * (node:crypto's aes-128-ccm with an 8-byte tag).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { concatBytes, encodeCoseItem } from './cose-cbor.ts';
import { ALG_AES_CCM_16_64_128, NONCE_LENGTH, TAG_LENGTH } from './security-context.ts';

/** Section 7.2.1: Sender Sequence Numbers stay below 2^40 (a Partial IV is at most 5 bytes). */
export const MAX_SEQUENCE_NUMBER = 2 ** 40 - 1;

/** What binds a response to its request (section 7.1): the request's 'kid' and 'Partial IV'. */
export interface RequestBinding {
  readonly kid: Uint8Array;
  readonly piv: Uint8Array;
}

/** Section 5: leading zero bytes removed, except that 0 is the one byte 0x00. */
export function partialIv(seq: number): Uint8Array {
  if (!Number.isInteger(seq) || seq < 0 || seq > MAX_SEQUENCE_NUMBER) throw new RangeError(`sequence number out of range: ${seq}`);
  const bytes: number[] = [];
  for (let v = seq; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.from(bytes.length > 0 ? bytes : [0]);
}

export function sequenceNumber(piv: Uint8Array): number {
  let n = 0;
  for (const b of piv) n = n * 256 + b;
  return n;
}

/**
 * Section 5.2, Figure 8: S (the length of ID_PIV), ID_PIV left-padded to nonce length - 6, the
 * Partial IV left-padded to 5 bytes, XORed with the Common IV. ID_PIV is the Sender ID of
 * whoever generated the Partial IV.
 */
export function aeadNonce(commonIv: Uint8Array, idPiv: Uint8Array, piv: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(NONCE_LENGTH);
  nonce[0] = idPiv.length;
  nonce.set(idPiv, NONCE_LENGTH - 5 - idPiv.length);
  nonce.set(piv, NONCE_LENGTH - piv.length);
  for (let i = 0; i < NONCE_LENGTH; i++) nonce[i]! ^= commonIv[i]!;
  return nonce;
}

/** Section 5.4: aad_array = [oscore_version 1, [alg_aead], request_kid, request_piv, Class I options (none defined)]. */
export function externalAad(binding: RequestBinding): Uint8Array {
  return encodeCoseItem([1, [ALG_AES_CCM_16_64_128], binding.kid, binding.piv, new Uint8Array(0)]);
}

/** Section 5.4 (RFC 8152 section 5.3): AAD = Enc_structure = ["Encrypt0", h'' (empty protected), external_aad as bstr]. */
export function encStructure(binding: RequestBinding): Uint8Array {
  return encodeCoseItem(['Encrypt0', new Uint8Array(0), externalAad(binding)]);
}

/** Ciphertext with the 8-byte tag appended (RFC 8152 section 10.2). */
export function seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: TAG_LENGTH });
  // CCM needs the plaintext length before the AAD (node:crypto documentation, CCM mode).
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  return concatBytes([body, cipher.getAuthTag()]);
}

/** The plaintext, or undefined when the tag does not verify (section 8.2 step 6, 8.4 step 5). */
export function open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  if (ciphertext.length < TAG_LENGTH) return undefined;
  const body = ciphertext.subarray(0, ciphertext.length - TAG_LENGTH);
  const decipher = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_LENGTH));
  decipher.setAAD(aad, { plaintextLength: body.length });
  try {
    const plaintext = decipher.update(body);
    // In CCM mode a wrong tag makes final() throw; update()'s output must then be dropped.
    decipher.final();
    return new Uint8Array(plaintext);
  } catch {
    return undefined;
  }
}
