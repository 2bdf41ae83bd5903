/**
 * Timing of confirmable notifications: RFC 7252 section 4.8 transmission parameters and RFC 7641
 * section 4.5's "at least one confirmable notification every 24 hours". Configurable so that
 * tests (and deployments on lossy links) can choose; the defaults are the RFCs'.
 */
export interface ObserveTiming {
  /** ACK_TIMEOUT (RFC 7252 section 4.8): 2000 ms. */
  ackTimeoutMs: number;
  /** ACK_RANDOM_FACTOR: 1.5. The first timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT * factor]. */
  ackRandomFactor: number;
  /** MAX_RETRANSMIT: 4. After this many retransmissions and one more timeout, the observer is gone. */
  maxRetransmit: number;
  /** RFC 7641 section 4.5: a confirmable notification at least this often (24 h). */
  confirmEveryMs: number;
}

export const DEFAULT_OBSERVE_TIMING: ObserveTiming = {
  ackTimeoutMs: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  confirmEveryMs: 24 * 60 * 60 * 1000,
};

/** Refuses settings that would make the retransmission loop meaningless (a programming error). */
export function checkTiming(t: ObserveTiming): ObserveTiming {
  if (!(t.ackTimeoutMs > 0) || !(t.ackRandomFactor >= 1) || !Number.isInteger(t.maxRetransmit) || t.maxRetransmit < 0 || !(t.confirmEveryMs > 0)) {
    throw new RangeError(`invalid observe timing ${JSON.stringify(t)}`);
  }
  return t;
}

/** The first retransmission timeout of a confirmable message (RFC 7252 section 4.2); `random` in [0, 1). */
export function initialTimeoutMs(t: ObserveTiming, random: number): number {
  return t.ackTimeoutMs * (1 + (t.ackRandomFactor - 1) * random);
}
