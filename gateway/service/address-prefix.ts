/**
 * IP addresses and CIDR prefixes for the access policy (access-policy.ts), in one form: 16
 * bytes, an IPv4 address as its IPv4-mapped IPv6 address ::ffff:a.b.c.d (RFC 4291 section
 * 2.5.5.2). The gateway's dual-stack socket reports IPv4 peers in that form, an IPv4-only one
 * as a.b.c.d: both become the same 16 bytes, and a prefix written "192.168.1.0/24" becomes
 * ::ffff:192.168.1.0/120, so one comparison covers every spelling of an IPv4 peer.
 *
 * No imports: the configuration parser validates prefixes with the same code that matches them.
 */

export type AddressBytes = Uint8Array;

const MAPPED_HEAD = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function ipv4Bytes(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    // Decimal only, no leading zeros: "010" is octal to inet_aton and decimal to others.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function ipv6Bytes(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        // A trailing dotted quad: ::ffff:192.168.1.20 (RFC 4291 section 2.2, form 3).
        const v4 = ipv4Bytes(item);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/**
 * The 16 bytes of an address as a socket reports it: "192.168.1.20", "::ffff:192.168.1.20",
 * "fe80::1%eth0" (the zone, which a link-local peer carries, is not part of the address).
 * Undefined for anything else.
 */
export function parseAddress(text: string): AddressBytes | undefined {
  const zone = text.indexOf('%');
  const bare = zone === -1 ? text : text.slice(0, zone);
  if (bare.includes(':')) {
    const v6 = ipv6Bytes(bare);
    return v6 ? Uint8Array.from(v6) : undefined;
  }
  const v4 = ipv4Bytes(bare);
  return v4 ? Uint8Array.from([...MAPPED_HEAD, ...v4]) : undefined;
}

export class AddressPrefix {
  readonly #bytes: AddressBytes;
  /** In bits of the 16-byte form (an IPv4 /24 is /120 here). */
  readonly #length: number;
  /** As the operator wrote it, for logs. */
  readonly text: string;

  private constructor(bytes: AddressBytes, length: number, text: string) {
    this.#bytes = bytes;
    this.#length = length;
    this.text = text;
  }

  /**
   * "192.168.1.0/24", "fd00::/8", or a single address ("192.168.1.20", "::1": /32 or /128).
   * Returns the reason instead when the text is not one, including host bits set past the
   * prefix ("192.168.1.5/24"): most likely a typo for a host or for another network, and
   * guessing which would widen or narrow an access rule silently.
   */
  static parse(text: string): AddressPrefix | string {
    const slash = text.indexOf('/');
    const addressText = slash === -1 ? text : text.slice(0, slash);
    if (addressText.includes('%')) return 'a prefix has no zone (%interface)';
    const v4 = !addressText.includes(':');
    const bytes = parseAddress(addressText);
    if (!bytes) return `${JSON.stringify(addressText)} is not an IPv4 or IPv6 address`;
    const max = v4 ? 32 : 128;
    let length = max;
    if (slash !== -1) {
      const lenText = text.slice(slash + 1);
      if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > max) return `the prefix length must be 0..${max}, got ${JSON.stringify(lenText)}`;
      length = Number(lenText);
    }
    const bits = v4 ? 96 + length : length;
    for (let i = bits; i < 128; i++) {
      if (bit(bytes, i)) return `host bits are set past /${length} (the network is ${format(bytes, bits, v4)}/${length})`;
    }
    return new AddressPrefix(bytes, bits, text);
  }

  /** Whether an address (parseAddress) lies in this prefix. */
  contains(address: AddressBytes): boolean {
    const whole = this.#length >> 3;
    for (let i = 0; i < whole; i++) if (address[i] !== this.#bytes[i]) return false;
    const rest = this.#length & 7;
    if (rest === 0) return true;
    const mask = (0xff << (8 - rest)) & 0xff;
    return (address[whole]! & mask) === (this.#bytes[whole]! & mask);
  }
}

function bit(bytes: AddressBytes, i: number): boolean {
  return ((bytes[i >> 3]! >> (7 - (i & 7))) & 1) === 1;
}

/** The network part of an address with the host bits cleared, for the refusal's hint. */
function format(bytes: AddressBytes, bits: number, v4: boolean): string {
  const net = Uint8Array.from(bytes, (b, i) => (i * 8 >= bits ? 0 : i * 8 + 8 <= bits ? b : b & ((0xff << (8 - (bits - i * 8))) & 0xff)));
  if (v4) return [...net.slice(12)].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((net[i]! << 8) | net[i + 1]!).toString(16));
  // RFC 5952 section 4.2: the longest run of two or more zero groups becomes "::".
  let start = -1;
  let run = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > run && j - i >= 2) [start, run] = [i, j - i];
    i = Math.max(i, j);
  }
  if (start === -1) return words.join(':');
  return `${words.slice(0, start).join(':')}::${words.slice(start + run).join(':')}`;
}

/**
 * Prefixes of the keywords. "loopback": this machine. "local": this machine and the networks
 * that do not route across the Internet: RFC 1918 private IPv4, link-local (RFC 3927 IPv4,
 * RFC 4291 IPv6) and unique local IPv6 (RFC 4193). Their IPv4-mapped forms are covered by the
 * 16-byte form above.
 */
export const LOOPBACK_PREFIXES = ['127.0.0.0/8', '::1/128'];
export const LOCAL_PREFIXES = [...LOOPBACK_PREFIXES, '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', 'fe80::/10', 'fc00::/7'];

/** For the built-in lists, which are known to parse. */
export function prefixes(texts: readonly string[]): AddressPrefix[] {
  return texts.map((t) => {
    const p = AddressPrefix.parse(t);
    if (typeof p === 'string') throw new Error(`built-in prefix ${t}: ${p}`);
    return p;
  });
}
