/**
 * The bounds of the Observe table (observe-layer.ts): registrations per source address, in all,
 * and in bytes, with what a registration is charged against the byte budget.
 */
import { MAX_PAYLOAD } from './block2.ts';
import { stringBytes } from './flat-string.ts';

export interface ObserverLimits {
  /** Registrations one source address may hold. */
  perAddress: number;
  /** Registrations in all. */
  total: number;
  /** Bytes in all, each registration charged observationBytes() (below). */
  totalBytes: number;
}

/**
 * What a registration holds whatever it asked: the Observation and its state objects, its
 * entries in the registry, the live set, its sensor's observer set and the 24 h queue, its peer,
 * the routes of up to 5 Message IDs (a CON and the 4 that may replace it in transit, or the
 * last 4 NON notifications) and its retransmission timer. Measured with 8,192 observers whose
 * notifications are retransmitted (bench/observer-memory.ts, heap snapshots): about 1.9 to 2.2
 * KiB each with the parts observationBytes adds. The exchange of its registration (held 247 s)
 * is charged by exchange-store.ts.
 */
export const OBSERVATION_BYTES = 2048;
/** A notification's header, token aside, and options (Content-Format, Max-Age, Observe; block 0 adds ETag, Block2, Size2). */
const NOTIFICATION_HEADER_BYTES = 32;
/** A later value may encode longer than the registration's (more digits, a float64 in CBOR). */
const VALUE_SLACK_BYTES = 16;

/**
 * The bytes one registration is charged: OBSERVATION_BYTES and what varies with the request,
 * its key, the key of its held blocks (holdKey: path, query, body), its token, and the one
 * notification it keeps for retransmission (a string of the registration's representation's
 * size plus VALUE_SLACK_BYTES; block 0 at most, MAX_PAYLOAD, when it is larger).
 */
export function observationBytes(o: { key: string; holdKey: string; tokenBytes: number; payloadBytes: number }): number {
  const notification = NOTIFICATION_HEADER_BYTES + o.tokenBytes + Math.min(o.payloadBytes + VALUE_SLACK_BYTES, MAX_PAYLOAD);
  return OBSERVATION_BYTES + stringBytes(o.key.length) + stringBytes(o.holdKey.length) + stringBytes(o.tokenBytes) + stringBytes(notification);
}

/**
 * A device observes a handful of resources; 64 leaves room for a proxy or a dashboard in front
 * of several. A registration for a reading is charged 2,280 bytes by observationBytes (2,392
 * with the longest IPv4-mapped address, an 8-byte token and SenML-JSON), so 8,192 of them are
 * 17.8 to 18.7 MiB, inside the 20 MiB budget. What varies is bounded by the request, but not
 * tightly: 7 query parameters of up to 255 bytes and a 256-byte FETCH body make a holdKey of
 * 2.4 KB and a charge of about 4,720 bytes; 8,192 of those would be 37 MiB, and the budget
 * keeps them to about 4,400.
 */
export const DEFAULT_OBSERVER_LIMITS: ObserverLimits = { perAddress: 64, total: 8192, totalBytes: 20 * 2 ** 20 };
