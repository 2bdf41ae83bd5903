/**
 * The OSCORE security context (RFC 8613 section 3): derived once from the Master Secret, the
 * optional Master Salt and ID Context, and the two IDs, with the default algorithms only:
 * AEAD AES-CCM-16-64-128 (COSE algorithm 10) and HKDF-SHA-256 (section 3.2).
 */
import { hkdfSync } from 'node:crypto';
import { encodeCoseItem } from './cose-cbor.ts';

/** COSE algorithm 10, AES-CCM-16-64-128 (RFC 8152 section 10.2): 16-byte key, 8-byte tag, 13-byte nonce. */
export const ALG_AES_CCM_16_64_128 = 10;
export const KEY_LENGTH = 16;
export const NONCE_LENGTH = 13;
export const TAG_LENGTH = 8;

export interface ContextInput {
  senderId: Uint8Array;
  recipientId: Uint8Array;
  masterSecret: Uint8Array;
  /** Absent means the empty byte string (section 3.1). */
  masterSalt?: Uint8Array;
  idContext?: Uint8Array;
}

export interface SecurityContext {
  readonly senderId: Uint8Array;
  readonly recipientId: Uint8Array;
  readonly idContext: Uint8Array | undefined;
  readonly senderKey: Uint8Array;
  readonly recipientKey: Uint8Array;
  readonly commonIv: Uint8Array;
}

export function deriveSecurityContext(input: ContextInput): SecurityContext {
  const salt = input.masterSalt ?? new Uint8Array(0);
  const derive = (id: Uint8Array, type: 'Key' | 'IV', length: number) => hkdf(input.masterSecret, salt, kdfInfo(id, input.idContext, type, length), length);
  return {
    senderId: input.senderId,
    recipientId: input.recipientId,
    idContext: input.idContext,
    senderKey: derive(input.senderId, 'Key', KEY_LENGTH),
    recipientKey: derive(input.recipientId, 'Key', KEY_LENGTH),
    // Section 3.2.1: the Common IV is derived with the empty byte string as id.
    commonIv: derive(new Uint8Array(0), 'IV', NONCE_LENGTH),
  };
}

/** Section 3.2.1: info = [id, id_context or nil, alg_aead, type ("Key" or "IV"), L]. */
export function kdfInfo(id: Uint8Array, idContext: Uint8Array | undefined, type: 'Key' | 'IV', length: number): Uint8Array {
  return encodeCoseItem([id, idContext ?? null, ALG_AES_CCM_16_64_128, type, length]);
}

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}
