/**
 * The OSCORE credentials the gateway serves (RFC 8613 section 3.1): one pre-shared context per
 * client, from a JSON file `{"clients": {"<name>": {<settings>}}}` whose settings use aiocoap's
 * settings.json keys (aiocoap.oscore.FilesystemSecurityContext._load, aiocoap 0.4.17): a key
 * ending in `_hex` is hex, `_ascii` is ASCII text, for sender-id, recipient-id, secret, salt and
 * id-context; plus `algorithm`, `kdf-hashfun` and `window`. The gateway's file is written from
 * the gateway's point of view: its sender ID is the client's recipient ID.
 *
 * Validation is strict: a typo in a key silently falling back to a default (no salt, no ID
 * context) would derive other keys, and every request would then fail as "Decryption failed"
 * with nothing pointing at the file.
 *
 * In the service layer: it is configuration, read by the start-up, the doctor and the client;
 * the CoAP front's OSCORE code (gateway/coap/oscore/) takes the parsed credentials.
 */
import { readJsonFile } from './json-file.ts';
import { GatewayError } from '../errors.ts';

/**
 * Sender and Recipient IDs are at most the AEAD nonce length (13 bytes for AES-CCM-16-64-128)
 * minus 6 (RFC 8613 section 3.3). Here, beside the parser, so that the service layer (the
 * doctor) reads credentials without importing the CoAP front's OSCORE code.
 */
export const MAX_ID_LENGTH = 13 - 6;

export interface OscoreClientSettings {
  senderId: Uint8Array;
  recipientId: Uint8Array;
  masterSecret: Uint8Array;
  masterSalt: Uint8Array;
  idContext: Uint8Array | undefined;
  /** aiocoap's `window`: the replay window size; undefined for the default (32, section 7.4). */
  replayWindow: number | undefined;
}

export interface OscoreCredential extends OscoreClientSettings {
  /** The client's name in the file: what logs, the access policy and the sequence file use. */
  name: string;
}

/** A credentials file is a few hundred bytes a client; anything near this is a mistake. */
export const CREDENTIALS_FILE_MAX_BYTES = 256 * 1024;
/** Each context holds keys, a replay window and an open sequence file (section 7.5.1). */
export const MAX_CLIENTS = 256;
/** The kid context travels after a one-byte length (section 6.1). */
export const MAX_ID_CONTEXT_LENGTH = 255;
export const MAX_REPLAY_WINDOW = 1024;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

const BYTE_FIELDS = ['sender-id', 'recipient-id', 'secret', 'salt', 'id-context'] as const;
type ByteField = (typeof BYTE_FIELDS)[number];
const OTHER_KEYS = new Set(['algorithm', 'kdf-hashfun', 'window']);

export async function loadOscoreCredentials(file: string): Promise<OscoreCredential[]> {
  const json = await readJsonFile(file, CREDENTIALS_FILE_MAX_BYTES, invalid);
  return parseOscoreCredentials(json, file);
}

/** One aiocoap-style settings.json, from the client's point of view (our CoAP client and the benchmark). */
export async function loadClientSettings(file: string): Promise<OscoreClientSettings> {
  return parseClientSettings(await readJsonFile(file, CREDENTIALS_FILE_MAX_BYTES, invalid));
}

export function parseOscoreCredentials(json: unknown, file: string): OscoreCredential[] {
  if (!isObject(json)) throw invalid('(file)', `${file} must hold a JSON object`);
  for (const key of Object.keys(json)) if (key !== 'clients') throw invalid(key, 'unknown key (only "clients")');
  const clients = json['clients'];
  if (!isObject(clients)) throw invalid('clients', 'must be an object of client name -> settings');
  const names = Object.keys(clients);
  if (names.length === 0) throw invalid('clients', 'no client');
  if (names.length > MAX_CLIENTS) throw invalid('clients', `${names.length} clients, at most ${MAX_CLIENTS}`);
  const seen = new Map<string, string>();
  const credentials = names.map((name) => {
    if (!NAME.test(name)) throw invalid(`clients.${JSON.stringify(name)}`, 'a name is 1 to 64 of A-Z a-z 0-9 . _ -');
    const credential = { name, ...parseSettings(clients[name], `clients.${name}`) };
    refuseDuplicate(seen, credential, `clients.${name}`);
    return credential;
  });
  refuseSharedSenderIds(credentials);
  return credentials;
}

/**
 * RFC 8613 section 3.3: a Sender ID is unique among all the contexts that share a Master
 * Secret, Master Salt and ID Context. Two entries with the same secret and the same gateway
 * sender-id (what copying an entry and changing only the client's ID gives) derive the same
 * Sender Key and Common IV, and each counting its own sequence numbers from 0 would seal
 * different messages under the same key and nonce: AES-CCM nonce reuse, which leaks the XOR of
 * the plaintexts and makes the MAC forgeable. So within one (secret, salt, id-context) every ID
 * that anyone sends with, the gateway's and the clients', must differ.
 */
function refuseSharedSenderIds(credentials: readonly OscoreCredential[]): void {
  const hex = (b: Uint8Array | undefined) => (b === undefined ? '-' : Buffer.from(b).toString('hex'));
  const senders = new Map<string, string>();
  for (const c of credentials) {
    const group = `${hex(c.masterSecret)}/${hex(c.masterSalt)}/${hex(c.idContext)}`;
    for (const [id, whose] of [[c.senderId, `the gateway's sender-id for ${c.name}`], [c.recipientId, `${c.name}'s own sender-id (recipient-id here)`]] as const) {
      const key = `${group}/${hex(id)}`;
      const other = senders.get(key);
      if (other !== undefined) {
        throw invalid(`clients.${c.name}`, `${whose} (${hex(id) || 'empty'}) is also ${other}, under the same secret, salt and id-context: the same key and nonces would be used twice (RFC 8613 section 3.3); give each client its own secret`);
      }
      senders.set(key, whose);
    }
  }
}

export function parseClientSettings(json: unknown, path = '(settings)'): OscoreClientSettings {
  return parseSettings(json, path);
}

function parseSettings(json: unknown, path: string): OscoreClientSettings {
  if (!isObject(json)) throw invalid(path, 'must be an object of aiocoap settings');
  const bytes = readByteFields(json, path);
  checkAlgorithms(json, path);
  const senderId = required(bytes, 'sender-id', path);
  const recipientId = required(bytes, 'recipient-id', path);
  const masterSecret = required(bytes, 'secret', path);
  for (const [field, id] of [['sender-id', senderId], ['recipient-id', recipientId]] as const) {
    if (id.length > MAX_ID_LENGTH) throw invalid(`${path}.${field}`, `${id.length} bytes, at most ${MAX_ID_LENGTH} (RFC 8613 section 3.3: nonce length 13 - 6)`);
  }
  // Equal IDs would give both directions the same key and the same nonces (section 3.3, Appendix D.4).
  if (bytesEqual(senderId, recipientId)) throw invalid(`${path}.recipient-id`, 'equal to sender-id; the two IDs of a context must differ (RFC 8613 section 3.3)');
  if (masterSecret.length === 0) throw invalid(`${path}.secret`, 'empty');
  const idContext = bytes.get('id-context');
  if (idContext && idContext.length > MAX_ID_CONTEXT_LENGTH) throw invalid(`${path}.id-context`, `${idContext.length} bytes, at most ${MAX_ID_CONTEXT_LENGTH}`);
  return { senderId, recipientId, masterSecret, masterSalt: bytes.get('salt') ?? new Uint8Array(0), idContext, replayWindow: readWindow(json, path) };
}

/** Every `<field>_hex` / `<field>_ascii` key, as aiocoap reads them; anything else is refused. */
function readByteFields(json: Record<string, unknown>, path: string): Map<ByteField, Uint8Array> {
  const out = new Map<ByteField, Uint8Array>();
  for (const [key, value] of Object.entries(json)) {
    if (OTHER_KEYS.has(key)) continue;
    const m = /^(.*)_(hex|ascii)$/.exec(key);
    const field = m?.[1] as ByteField | undefined;
    if (!m || !field || !BYTE_FIELDS.includes(field)) throw invalid(`${path}.${key}`, `unknown key (expected ${BYTE_FIELDS.map((f) => `${f}_hex`).join(', ')}, their _ascii forms, algorithm, kdf-hashfun or window)`);
    if (out.has(field)) throw invalid(`${path}.${key}`, `${field} given twice (as _hex and _ascii)`);
    out.set(field, m[2] === 'hex' ? hexValue(value, `${path}.${key}`) : asciiValue(value, `${path}.${key}`));
  }
  return out;
}

function hexValue(value: unknown, path: string): Uint8Array {
  if (typeof value !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(value)) throw invalid(path, 'not hex (an even number of 0-9 a-f)');
  return Uint8Array.from(Buffer.from(value, 'hex'));
}

function asciiValue(value: unknown, path: string): Uint8Array {
  if (typeof value !== 'string' || !/^[\x00-\x7f]*$/.test(value)) throw invalid(path, 'not an ASCII string');
  return Uint8Array.from(Buffer.from(value, 'ascii'));
}

/** Only the defaults are implemented (section 3.2): AES-CCM-16-64-128 and HKDF-SHA-256. */
function checkAlgorithms(json: Record<string, unknown>, path: string): void {
  const alg = json['algorithm'];
  if (alg !== undefined && alg !== 'AES-CCM-16-64-128') throw invalid(`${path}.algorithm`, `${JSON.stringify(alg)} is not supported (only "AES-CCM-16-64-128")`);
  const hash = json['kdf-hashfun'];
  if (hash !== undefined && hash !== 'sha256') throw invalid(`${path}.kdf-hashfun`, `${JSON.stringify(hash)} is not supported (only "sha256")`);
}

function readWindow(json: Record<string, unknown>, path: string): number | undefined {
  const w = json['window'];
  if (w === undefined) return undefined;
  if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > MAX_REPLAY_WINDOW) throw invalid(`${path}.window`, `an integer 1..${MAX_REPLAY_WINDOW}`);
  return w;
}

function required(bytes: Map<ByteField, Uint8Array>, field: ByteField, path: string): Uint8Array {
  const v = bytes.get(field);
  if (!v) throw invalid(`${path}.${field}_hex`, 'missing');
  return v;
}

/** Section 3.3 / 8.2 step 2: a request finds its context by (kid = our Recipient ID, kid context). */
function refuseDuplicate(seen: Map<string, string>, c: OscoreCredential, path: string): void {
  const key = `${Buffer.from(c.recipientId).toString('hex')}/${c.idContext ? Buffer.from(c.idContext).toString('hex') : '-'}`;
  const other = seen.get(key);
  if (other !== undefined) throw invalid(`${path}.recipient-id`, `same recipient-id and id-context as client ${other}: a request could not tell them apart`);
  seen.set(key, c.name);
}

function invalid(field: string, problem: string, cause?: unknown): GatewayError {
  return new GatewayError('GW_ERR_OSCORE_CREDENTIALS', { detail: `${field}: ${problem}` }, { cause });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
