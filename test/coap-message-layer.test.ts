/**
 * The CoAP message layer over real UDP sockets, one `it` per finding of issue 11: what reaches a
 * resource (RFC 7252 section 6.4: a Uri-Path option is one segment), what is never answered
 * (sections 4.2, 4.3: ACK and RST), duplicate detection by Message ID and endpoint (section 4.5),
 * block-wise reads (RFC 7959 sections 2.2-2.4: SZX 7 reserved, every block with the same
 * Content-Format, Max-Age and ETag, Size2 on block 0, section 2.10's ETag check when each block
 * is its own request), uint encoding of option values (section 3.2: 0 is zero-length), request
 * bodies per method (sections 5.8.1-5.8.2, RFC 8132), units SenML can carry (RFC 8428 section
 * 12.1) and an elective option of the wrong length (section 5.4.3).
 *
 * Raw datagrams (coap-packet, helpers/coap-datagram.ts), never the gateway's own codec. Each test
 * has a client socket of its own: Message IDs are remembered per endpoint (section 4.5), so a
 * shared socket could make one test's request a duplicate of another's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decode as cborDecode } from 'cbor-x';
import { generate, parse } from 'coap-packet';
import type { ManualClock } from '../drivers/clock.ts';
import {
  RawClient,
  type Response,
  block2Of,
  block2Value,
  emptyMessage,
  optionValue,
  pathOptions,
  readUint,
  requestDatagram,
  toResponse,
  uint,
} from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { ObserveClient } from './helpers/observe-client.ts';

type Opt = { name: string; value: Buffer };

const CBOR_CF: Opt = { name: 'Content-Format', value: uint(60) };
/** {"unit":"K"} */
const UNIT_K = Buffer.from('a164756e6974614b', 'hex');
/** {"unit":"degF"} */
const UNIT_DEGF = Buffer.from('a164756e69746464656746', 'hex');

function get(path: string, extra: Opt[] = [], more: Parameters<typeof requestDatagram>[0] = {}): Buffer {
  return requestDatagram({ ...more, options: [...pathOptions(path), ...extra] });
}

function body(res: Response): Record<string, unknown> {
  return res.cbor as Record<string, unknown>;
}

function assertError(res: Response | undefined, code: string, errorCode: string): asserts res is Response {
  assert.ok(res, `no response, expected ${code} ${errorCode}`);
  assert.equal(res.code, code, `expected ${code} ${errorCode}, got ${res.code} ${JSON.stringify(res.cbor ?? res.packet.payload.toString())}`);
  assert.equal(res.contentFormat, 60);
  assert.equal(body(res)['code'], errorCode);
}

/** One line for a datagram in a failure message. */
function summary(raw: Buffer): string {
  try {
    const r = toResponse(raw);
    const type = r.packet.reset ? 'RST' : r.packet.ack ? 'ACK' : r.packet.confirmable ? 'CON' : 'NON';
    return `${type} ${r.code} MID ${r.packet.messageId} ${JSON.stringify(r.cbor ?? r.packet.payload.toString())}`;
  } catch {
    return raw.toString('hex');
  }
}

/** Nothing arrives within `ms`. */
async function assertNothing(client: RawClient, what: string, ms = 300): Promise<void> {
  const got = await client.next(ms);
  if (got !== undefined) assert.fail(`${what}: got ${summary(got)}`);
}

/** Distinct tokens, as a client that starts a new request for every block (aiocoap) sends them. */
let tokenSeq = 0;
function freshToken(): Buffer {
  const t = Buffer.alloc(4);
  t.writeUInt32BE((0x5a000000 + tokenSeq++) >>> 0);
  return t;
}

interface BlockRead {
  blocks: Response[];
  body: Buffer;
}

/**
 * Reads `path` block by block from block 0 at 2 ** (szx + 4) bytes, following the block size the
 * server answers with (RFC 7959 section 2.4 lets it choose a smaller one). `fresh`: a new token
 * for every block; otherwise one token for the whole transfer. Every request has its own
 * Message ID.
 */
async function readBlockwise(client: RawClient, path: string, o: { szx: number; fresh?: boolean; accept?: number; first?: Response }): Promise<BlockRead> {
  const token = freshToken();
  const blocks: Response[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  let num = 0;
  let szx = o.szx;
  if (o.first) {
    // A response to a request without Block2 that came back block-wise: carry on from it.
    const b = block2Of(o.first);
    assert.ok(b && b.num === 0);
    blocks.push(o.first);
    parts.push(o.first.packet.payload);
    offset = o.first.packet.payload.length;
    if (!b.more) return { blocks, body: Buffer.concat(parts) };
    num = 1;
    szx = b.szx;
  }
  for (let i = 0; i < 400; i++) {
    const extra: Opt[] = [{ name: 'Block2', value: block2Value(num, szx) }];
    if (o.accept !== undefined) extra.push({ name: 'Accept', value: uint(o.accept) });
    const res = await client.exchange(get(path, extra, { token: o.fresh ? freshToken() : token }));
    assert.ok(res, `no reply to block ${num} (SZX ${szx}) of ${path}`);
    assert.equal(res.code, '2.05', `block ${num} of ${path}: ${res.code} ${JSON.stringify(res.cbor ?? res.packet.payload.toString())}`);
    const b = block2Of(res);
    assert.ok(b, `block ${num} of ${path} carries no Block2 option`);
    assert.equal(b.num * b.size, offset, `block ${b.num} (${b.size} bytes) continues at byte ${offset}`);
    if (b.more) assert.equal(res.packet.payload.length, b.size, `block ${b.num}: M=1 so a full block`);
    else assert.ok(res.packet.payload.length <= b.size);
    blocks.push(res);
    parts.push(res.packet.payload);
    offset += res.packet.payload.length;
    if (!b.more) return { blocks, body: Buffer.concat(parts) };
    num = b.num + 1;
    szx = b.szx;
  }
  assert.fail(`${path}: more than 400 blocks`);
}

/**
 * The representation a GET without Block2 gives, read on block-wise if the server chose to send
 * it in blocks (it may, to a source it has not verified: test/coap-amplification.test.ts).
 */
async function plainRead(client: RawClient, path: string, accept?: number): Promise<{ first: Response; body: Buffer }> {
  const res = await client.exchange(get(path, accept === undefined ? [] : [{ name: 'Accept', value: uint(accept) }]));
  assert.ok(res, `GET ${path}: no reply`);
  assert.equal(res.code, '2.05', `GET ${path}${accept === undefined ? '' : ` Accept ${accept}`}: ${res.code} ${JSON.stringify(res.cbor)}`);
  if (block2Of(res) === undefined) return { first: res, body: res.packet.payload };
  return { first: res, body: (await readBlockwise(client, path, { szx: 0, first: res, ...(accept === undefined ? {} : { accept }) })).body };
}

describe('CoAP message layer (issue 11)', () => {
  let gw: TestGateway;
  let client: RawClient;
  before(async () => {
    gw = await startTestGateway({ simCelsius: 21.5 });
  });
  after(async () => {
    await gw.close();
  });
  // A socket per test: duplicate detection is per endpoint and Message ID (RFC 7252 section 4.5).
  const open = async () => (client = await RawClient.open('127.0.0.1', gw.port));
  const close = () => client.close();

  it('1. a Uri-Path option is one segment: "temp?unit=K" and "temp/alert" in one option are 4.04', async () => {
    await open();
    try {
      // RFC 7252 section 6.4: a "?" or "/" inside an option value is data, not a delimiter.
      assertError(await client.exchange(get('', [{ name: 'Uri-Path', value: Buffer.from('temp?unit=K') }])), '4.04', 'GW_ERR_REQUEST_NOT_FOUND');
      assertError(await client.exchange(get('', [{ name: 'Uri-Path', value: Buffer.from('temp/alert') }])), '4.04', 'GW_ERR_REQUEST_NOT_FOUND');
      // NON too (another path through the server).
      assertError(await client.exchange(get('', [{ name: 'Uri-Path', value: Buffer.from('temp?unit=K') }], { confirmable: false })), '4.04', 'GW_ERR_REQUEST_NOT_FOUND');
      // Two segments reach the alert resource.
      const alert = await client.exchange(get('', [{ name: 'Uri-Path', value: Buffer.from('temp') }, { name: 'Uri-Path', value: Buffer.from('alert') }]));
      assert.equal(alert?.code, '2.05');
      assert.equal(typeof body(alert)['high'], 'number');
    } finally {
      await close();
    }
  });

  it('2. nothing is ever sent in reply to an ACK or RST, solicited or not', async () => {
    // Every case is tried; the failure lists each one that got an answer.
    const answered: string[] = [];
    const expectNothing = async (c: RawClient, what: string) => {
      const got = await c.next(300);
      if (got !== undefined) answered.push(`${what}: got ${summary(got)}`);
    };
    // Unsolicited Empty RST and Empty ACK (RFC 7252 sections 4.2, 4.3: matched against what we
    // sent, or ignored), and ACKs and RSTs that are not Empty (section 4.1: a format error in a
    // message that is not confirmable is silently ignored). One socket each, all waited for at once.
    const unsolicited: Array<[string, Buffer]> = [
      ['an unsolicited Empty RST', emptyMessage('rst', 0x2201)],
      ['an unsolicited Empty ACK', emptyMessage('ack', 0x2202)],
      ['a 2.05 in an ACK', generate({ ack: true, code: '2.05', messageId: 0x2203, token: Buffer.from('zz'), payload: Buffer.from('x') })],
      ['a RST with a payload', Buffer.from([0x70, 0x00, 0x22, 0x04, 0xff, 0x01])],
      ['a RST with a token', Buffer.from([0x72, 0x00, 0x22, 0x05, 0xaa, 0xbb])],
      ['a GET in an ACK', Buffer.from([0x60, 0x01, 0x22, 0x06])],
    ];
    await Promise.all(
      unsolicited.map(async ([what, datagram]) => {
        const c = await RawClient.open('127.0.0.1', gw.port);
        try {
          c.send(datagram);
          await expectNothing(c, what);
        } finally {
          await c.close();
        }
      }),
    );

    // A RST for a confirmable notification the client already acknowledged: stale, ignored.
    const own = await startTestGateway({ simCelsius: 20, random: () => 0 });
    const observer = await ObserveClient.open(own.port);
    try {
      observer.autoAck = false;
      const reg = await observer.request('/temp', { token: Buffer.from('o2') });
      assert.equal(reg.code, '2.05');
      assert.notEqual(reg.observe, undefined);
      own.sim.setTemperature(23);
      const [notification] = await observer.advance(own.clock as ManualClock, 400);
      assert.ok(notification?.packet.confirmable, 'a confirmable notification');
      const mid = notification.packet.messageId;
      observer.raw.send(emptyMessage('ack', mid));
      await expectNothing(observer.raw, 'the ACK of a notification');
      observer.raw.send(emptyMessage('rst', mid));
      await expectNothing(observer.raw, 'a RST of an acknowledged notification');
      observer.raw.send(emptyMessage('ack', mid));
      await expectNothing(observer.raw, 'a repeated ACK of a notification');
      observer.raw.send(emptyMessage('rst', (mid + 1) & 0xffff));
      await expectNothing(observer.raw, 'a RST with an unknown Message ID from an observer');
    } finally {
      await observer.close();
      await own.close();
    }
    assert.deepEqual(answered, []);
  });

  it('3. Block2 with SZX 7 is 4.00 GW_ERR_REQUEST_BAD_BLOCK; a block past the end is 4.02 GW_ERR_REQUEST_BAD_OPTION', async () => {
    await open();
    try {
      // RFC 7959 section 2.2: SZX 7 is reserved and MUST lead to 4.00 in a request.
      for (const path of ['/.well-known/core', '/gw/stats', '/temp']) {
        assertError(await client.exchange(get(path, [{ name: 'Block2', value: Buffer.from([0x07]) }])), '4.00', 'GW_ERR_REQUEST_BAD_BLOCK');
      }
      // NUM 100 of 16-byte blocks starts at byte 1600: past the end of both (our documented 4.02).
      for (const path of ['/.well-known/core', '/gw/stats']) {
        assertError(await client.exchange(get(path, [{ name: 'Block2', value: block2Value(100, 0) }])), '4.02', 'GW_ERR_REQUEST_BAD_OPTION');
      }
    } finally {
      await close();
    }
  });

  it('4. every block carries block 0\'s Content-Format, Max-Age and ETag; block 0 carries Size2; the last has M=0', async () => {
    await open();
    try {
      const cases: Array<{ path: string; accept?: number; contentFormat: number; maxAge: number }> = [
        { path: '/.well-known/core', contentFormat: 40, maxAge: 3600 },
        { path: '/gw/stats', contentFormat: 60, maxAge: 0 },
        { path: '/gw/stats', accept: 50, contentFormat: 50, maxAge: 0 },
      ];
      for (const c of cases) {
        const what = `${c.path}${c.accept === undefined ? '' : ` Accept ${c.accept}`}`;
        const { blocks, body: whole } = await readBlockwise(client, c.path, { szx: 0, ...(c.accept === undefined ? {} : { accept: c.accept }) });
        assert.ok(blocks.length > 2, `${what}: in several 16-byte blocks (${blocks.length})`);
        const [first] = blocks;
        assert.equal(first!.contentFormat, c.contentFormat, `${what}: block 0 Content-Format`);
        assert.equal(first!.maxAge, c.maxAge, `${what}: block 0 Max-Age`);
        const etag = optionValue(first!.packet, 'ETag');
        assert.ok(etag && etag.length >= 1 && etag.length <= 8, `${what}: block 0 carries an ETag (RFC 7252 section 5.10.6)`);
        const size2 = optionValue(first!.packet, 'Size2');
        assert.ok(size2 !== undefined, `${what}: block 0 carries Size2 (RFC 7959 section 4)`);
        assert.equal(readUint(size2), whole.length, `${what}: Size2 is the representation's length`);
        blocks.forEach((b, i) => {
          assert.equal(b.contentFormat, c.contentFormat, `${what}: block ${i} Content-Format`);
          assert.equal(b.maxAge, c.maxAge, `${what}: block ${i} Max-Age`);
          assert.deepEqual(optionValue(b.packet, 'ETag'), etag, `${what}: block ${i} ETag`);
          assert.equal(block2Of(b)!.more, i < blocks.length - 1, `${what}: block ${i} M`);
        });
        if (c.path === '/.well-known/core') {
          assert.equal(whole.toString(), (await plainRead(client, c.path)).body.toString(), 'the blocks make up what a plain GET gives');
          assert.match(whole.toString(), /^<\/temp>;/);
        } else if (c.contentFormat === 60) {
          assert.ok('requests' in (cborDecode(whole) as object));
        } else {
          assert.ok('requests' in JSON.parse(whole.toString()));
        }
      }
    } finally {
      await close();
    }
  });

  it('5. /gw/stats read with a fresh token and Message ID for every block: one ETag, one CBOR map (16- and 64-byte blocks)', async () => {
    await open();
    try {
      for (const szx of [0, 2]) {
        const { blocks, body: whole } = await readBlockwise(client, '/gw/stats', { szx, fresh: true });
        assert.ok(blocks.length > 1, `SZX ${szx}: several blocks`);
        const etags = blocks.map((b) => optionValue(b.packet, 'ETag')?.toString('hex'));
        assert.ok(etags[0] !== undefined, `SZX ${szx}: block 0 carries an ETag`);
        assert.deepEqual(etags, blocks.map(() => etags[0]), `SZX ${szx}: every block has block 0's ETag (RFC 7959 section 2.10)`);
        let map: unknown;
        assert.doesNotThrow(() => (map = cborDecode(whole)), `SZX ${szx}: the blocks make up one CBOR item`);
        assert.equal(typeof map, 'object');
        assert.ok(map !== null && !Array.isArray(map));
        for (const key of ['requests', 'sensors']) assert.ok(key in (map as object), `SZX ${szx}: "${key}" in the map`);
      }
    } finally {
      await close();
    }
  });

  it('6. a CON reusing a Message ID with another token is a duplicate (byte-identical reply); a NON reusing one is ignored', async () => {
    await open();
    try {
      // RFC 7252 section 4.5: duplicates are detected by Message ID and endpoint; the token plays no part.
      for (const [path, mid] of [['/temp', 0x6601], ['/gw/stats', 0x6602], ['/.well-known/core', 0x6603]] as const) {
        const first = await client.exchange(get(path, [], { messageId: mid, token: Buffer.from('t1') }));
        assert.ok(first, path);
        (gw.clock as ManualClock).advanceMs(300); // a re-read would be a newer reading
        const second = await client.exchange(get(path, [], { messageId: mid, token: Buffer.from('t2-other') }));
        assert.ok(second, `${path}: no reply to the duplicate`);
        assert.equal(second.raw.toString('hex'), first.raw.toString('hex'), `${path}: the duplicate's reply is the first reply (${summary(first.raw)}; then ${summary(second.raw)})`);
        assert.deepEqual(second.packet.token, Buffer.from('t1'), `${path}: it carries the first token`);
      }
      // A NON reusing a Message ID: processed once, the second silently ignored.
      const non = await client.exchange(get('/temp', [], { confirmable: false, messageId: 0x6604, token: Buffer.from('n1') }));
      assert.equal(non?.code, '2.05');
      client.send(get('/temp', [], { confirmable: false, messageId: 0x6604, token: Buffer.from('n2') }));
      await assertNothing(client, 'the NON duplicate was answered');
    } finally {
      await close();
    }
  });

  it('7. Content-Format 0 is a zero-length option value, in a CON request\'s reply and a NON request\'s reply', async () => {
    await open();
    try {
      // RFC 7252 section 3.2: a uint is sent in the fewest bytes; 0 in none.
      for (const confirmable of [true, false]) {
        const res = await client.exchange(get('/temp', [{ name: 'Accept', value: uint(0) }], { confirmable }));
        assert.equal(res?.code, '2.05');
        const cf = parse(res.raw).options.filter((o) => o.name === 'Content-Format');
        assert.equal(cf.length, 1);
        assert.equal(cf[0]!.value.length, 0, `${confirmable ? 'CON' : 'NON'}: Content-Format 0 written as ${cf[0]!.value.toString('hex')}`);
      }
    } finally {
      await close();
    }
  });

  it('8. a GET with a body is 4.00 GW_ERR_REQUEST_BODY_NOT_ALLOWED; POST is 4.05; FETCH carries the body', async () => {
    await open();
    try {
      // RFC 7252 section 5.8.1: GET has no payload semantics; refused rather than silently ignored.
      assertError(await client.exchange(get('/temp', [CBOR_CF], { payload: UNIT_K })), '4.00', 'GW_ERR_REQUEST_BODY_NOT_ALLOWED');
      assertError(await client.exchange(get('/temp', [], { payload: UNIT_K })), '4.00', 'GW_ERR_REQUEST_BODY_NOT_ALLOWED');
      // Reading is safe; POST is not (section 5.8.2), and FETCH is the method with a body (RFC 8132).
      assertError(await client.exchange(get('/temp', [CBOR_CF], { code: '0.02', payload: UNIT_K })), '4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED');
      assertError(await client.exchange(get('/temp', [], { code: '0.02' })), '4.05', 'GW_ERR_REQUEST_METHOD_NOT_ALLOWED');
      const fetch = await client.exchange(get('/temp', [CBOR_CF], { code: '0.05', payload: UNIT_K }));
      assert.equal(fetch?.code, '2.05');
      assert.equal(body(fetch)['unit'], 'K');
      assert.equal(body(fetch)['value'], 294.65);
    } finally {
      await close();
    }
  });

  it('9. SenML never says "degF": unit=degF with Accept 110 or 112 is 4.00 GW_ERR_REQUEST_BAD_PARAMETER; K works', async () => {
    await open();
    try {
      // RFC 8428 section 12.1: "Cel" and "K" are SenML units; degrees Fahrenheit is not one.
      for (const accept of [110, 112]) {
        const a: Opt = { name: 'Accept', value: uint(accept) };
        assertError(await client.exchange(get('/temp?unit=degF', [a])), '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER');
        assertError(await client.exchange(get('/temp?unit=degF', [a], { confirmable: false })), '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER');
        assertError(await client.exchange(get('/temp', [a, CBOR_CF], { code: '0.05', payload: UNIT_DEGF })), '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER');
        // An Observe registration is refused the same way, without Observe (RFC 7641 section 4.1).
        const reg = await client.exchange(get('/temp?unit=degF', [a, { name: 'Observe', value: Buffer.alloc(0) }]));
        assertError(reg, '4.00', 'GW_ERR_REQUEST_BAD_PARAMETER');
        assert.equal(reg.observe, undefined);
        const k = await plainRead(client, '/temp?unit=K', accept);
        assert.equal(k.first.contentFormat, accept);
        const record = accept === 112 ? (cborDecode(k.body) as Array<Record<string, unknown>>)[0]! : (JSON.parse(k.body.toString()) as Array<Record<string, unknown>>)[0]!;
        assert.equal(record[accept === 112 ? '1' : 'u'], 'K');
      }
      assert.equal(gw.server.observers(), 0);
      // The other formats still convert to degF.
      const cbor = await plainRead(client, '/temp?unit=degF');
      assert.equal((cborDecode(cbor.body) as Record<string, unknown>)['unit'], 'degF');
      const json = await plainRead(client, '/temp?unit=degF', 50);
      assert.equal(JSON.parse(json.body.toString()).unit, 'degF');
    } finally {
      await close();
    }
  });

  it('10. a FETCH whose Content-Format is 3 or 4 bytes long has none (elective, ignored): 4.15, never silence', async () => {
    await open();
    try {
      // RFC 7252 section 5.4.3: a length outside the option's range makes it unrecognised;
      // section 5.4.1: an unrecognised elective option is ignored. RFC 8132 section 2.3.1: 4.15.
      for (const value of [Buffer.from('00003c', 'hex'), Buffer.from('0000003c', 'hex')]) {
        const res = await client.exchange(get('/temp', [{ name: 'Content-Format', value }], { code: '0.05', payload: UNIT_K }));
        assertError(res, '4.15', 'GW_ERR_REQUEST_UNSUPPORTED_FORMAT');
        assert.equal(res.packet.ack, true);
      }
    } finally {
      await close();
    }
  });

  it('11. a duplicate CON (same Message ID, same token) gets a byte-identical reply', async () => {
    await open();
    try {
      for (const [path, mid] of [['/temp', 0x7701], ['/gw/stats', 0x7702], ['/nope', 0x7703], ['/.well-known/core', 0x7704]] as const) {
        const req = get(path, [], { messageId: mid, token: Buffer.from('dup') });
        const first = await client.exchange(req);
        (gw.clock as ManualClock).advanceMs(300);
        const second = await client.exchange(req);
        assert.ok(first && second, path);
        assert.equal(second.raw.toString('hex'), first.raw.toString('hex'), `${path}: ${summary(first.raw)}; then ${summary(second.raw)}`);
      }
    } finally {
      await close();
    }
  });
});
