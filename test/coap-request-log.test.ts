/**
 * The per-request debug line (gateway/coap/request-log.ts) over real UDP against a gateway
 * started in-process: exactly one line per request with the peer, method, path, code, time
 * taken and the layer that answered, whichever layer that was; none at info level, where the
 * line must not even be built; none per Observe notification.
 */
import assert from 'node:assert/strict';
import { type Socket, createSocket } from 'node:dgram';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { ManualClock } from '../drivers/clock.ts';
import { type LogEntry, type LogLevel, type Logger, MemoryLogger, createConsoleLogger } from '../gateway/log.ts';
import { type Response, emptyMessage, observeRequest, pathOptions, requestDatagram, toResponse, uint } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';

/** A client socket whose own port the test knows (the line's peer). */
class Client {
  readonly socket: Socket;
  readonly #inbox: Buffer[] = [];
  #waiter: (() => void) | undefined;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('message', (m) => {
      this.#inbox.push(m);
      this.#waiter?.();
    });
  }
  static async open(): Promise<Client> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new Client(socket);
  }
  get peer(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }
  async exchange(port: number, datagram: Buffer): Promise<Response> {
    this.socket.send(datagram, port, '127.0.0.1');
    const deadline = Date.now() + 2000;
    while (this.#inbox.length === 0) {
      if (Date.now() > deadline) throw new Error('no response');
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
    return toResponse(this.#inbox.shift()!);
  }
  take(): Buffer[] {
    return this.#inbox.splice(0);
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

const requestLines = (logger: MemoryLogger): LogEntry[] => logger.entries.filter((e) => e.msg === 'request');

/** Lines are written when the response leaves; the client may see it a moment before the log call returns. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('one debug line per CoAP request', () => {
  let logger: MemoryLogger;
  let gw: TestGateway;
  let client: Client;
  beforeEach(async () => {
    logger = new MemoryLogger('debug');
    gw = await startTestGateway({ simCelsius: 21.5, logger });
    client = await Client.open();
  });
  afterEach(async () => {
    await client.close();
    await gw.close();
  });

  it('GET /temp: peer, type, method, path, query, code, time taken and the layer that answered', async () => {
    const res = await client.exchange(gw.port, requestDatagram({ options: pathOptions('/temp?unit=K') }));
    assert.equal(res.code, '2.05');
    await turn();
    const lines = requestLines(logger);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const f = lines[0]!.fields;
    assert.equal(lines[0]!.level, 'debug');
    assert.deepEqual(
      { component: f['component'], peer: f['peer'], type: f['type'], method: f['method'], path: f['path'], query: f['query'], code: f['code'], via: f['via'] },
      { component: 'coap', peer: client.peer, type: 'CON', method: 'GET', path: '/temp', query: 'unit=K', code: '2.05', via: 'resource' },
    );
    assert.equal(typeof f['ms'], 'number');
    assert.ok((f['ms'] as number) >= 0 && (f['ms'] as number) < 2000, `ms=${f['ms']}`);
  });

  it('a duplicate CON is one more line, answered with the reply already sent; a NON says NON', async () => {
    const get = requestDatagram({ options: pathOptions('/temp') });
    await client.exchange(gw.port, get); // reads the sensor
    await client.exchange(gw.port, get); // the same Message ID: the reply already sent (RFC 7252 section 4.5)
    const fresh = requestDatagram({ options: pathOptions('/temp') });
    await client.exchange(gw.port, fresh); // answered from the fresh reading
    const fetch = requestDatagram({ code: '0.05', options: [...pathOptions('/temp'), { name: 'Content-Format', value: uint(60) }], payload: Buffer.from([0xa0]) });
    await client.exchange(gw.port, fetch);
    await client.exchange(gw.port, fetch); // a duplicate again
    await client.exchange(gw.port, requestDatagram({ confirmable: false, options: pathOptions('/temp') }));
    await turn();
    assert.deepEqual(
      requestLines(logger).map((e) => [e.fields['type'], e.fields['method'], e.fields['code'], e.fields['via']]),
      [
        ['CON', 'GET', '2.05', 'resource'],
        ['CON', 'GET', '2.05', 'duplicate'],
        ['CON', 'GET', '2.05', 'resource'],
        ['CON', 'FETCH', '2.05', 'resource'],
        ['CON', 'FETCH', '2.05', 'duplicate'],
        ['NON', 'GET', '2.05', 'resource'],
      ],
    );
  });

  it('error responses: 4.04 and 4.00 from the resources, 4.02 refused on its options with the reason', async () => {
    assert.equal((await client.exchange(gw.port, requestDatagram({ options: pathOptions('/nope') }))).code, '4.04');
    const badBody = requestDatagram({ code: '0.05', options: [...pathOptions('/temp'), { name: 'Content-Format', value: uint(60) }], payload: Buffer.from([0xff]) });
    assert.equal((await client.exchange(gw.port, badBody)).code, '4.00');
    const ifMatch = requestDatagram({ options: [{ name: 'If-Match', value: Buffer.from([1]) }, ...pathOptions('/temp')] });
    assert.equal((await client.exchange(gw.port, ifMatch)).code, '4.02');
    await turn();
    const lines = requestLines(logger);
    assert.deepEqual(lines.map((e) => [e.fields['path'], e.fields['code'], e.fields['via']]), [['/nope', '4.04', 'resource'], ['/temp', '4.00', 'resource'], ['/temp', '4.02', 'refused']]);
    assert.equal(typeof lines[2]!.fields['reason'], 'string');
  });

  it('an Observe registration is one line; its notifications are none; a deregistration is one', async () => {
    const token = Buffer.from('obs1');
    const reg = await client.exchange(gw.port, observeRequest('/temp', { token }));
    assert.ok(reg.observe !== undefined);
    const clock = gw.clock as ManualClock;
    let notifications = 0;
    for (const t of [22.5, 23.5]) {
      gw.sim.setTemperature(t);
      for (let i = 0; i < 40 && notifications < (t === 22.5 ? 1 : 2); i++) {
        clock.advanceMs(10);
        await turn();
        await turn();
        for (const raw of client.take()) {
          const n = toResponse(raw);
          if (n.packet.confirmable) client.socket.send(emptyMessage('ack', n.packet.messageId), gw.port, '127.0.0.1');
          notifications++;
        }
      }
    }
    assert.equal(notifications, 2, 'two notifications went out');
    await client.exchange(gw.port, observeRequest('/temp', { token, observe: 1 }));
    await turn();
    assert.deepEqual(
      requestLines(logger).map((e) => [e.fields['observe'], e.fields['code'], e.fields['via']]),
      [['register', '2.05', 'observe'], ['deregister', '2.05', 'resource']],
    );
  });
});

describe('no request line below debug', () => {
  /** A logger at info whose debug() still records: the server must not call it for a request at all. */
  class SpyLogger implements Logger {
    readonly calls: string[] = [];
    debug(msg: string): void { this.calls.push(msg); }
    info(): void {}
    warn(): void {}
    error(): void {}
    child(): Logger { return this; }
    isLevelEnabled(level: LogLevel): boolean { return level !== 'debug'; }
  }

  let gw: TestGateway;
  let client: Client;
  let spy: SpyLogger;
  before(async () => {
    spy = new SpyLogger();
    gw = await startTestGateway({ simCelsius: 21.5, logger: spy });
    client = await Client.open();
  });
  after(async () => {
    await client.close();
    await gw.close();
  });

  it('at info level a request builds no line, whichever layer answers it', async () => {
    const get = requestDatagram({ options: pathOptions('/temp') });
    await client.exchange(gw.port, get);
    await client.exchange(gw.port, get);
    await client.exchange(gw.port, requestDatagram({ options: pathOptions('/temp') }));
    await client.exchange(gw.port, requestDatagram({ options: pathOptions('/nope') }));
    await client.exchange(gw.port, requestDatagram({ options: [{ name: 'If-Match', value: Buffer.from([1]) }, ...pathOptions('/temp')] }));
    await turn();
    assert.deepEqual(spy.calls.filter((m) => m === 'request'), []);
  });
});

describe('the request line as an operator reads it', () => {
  it('text and JSON, on the console logger', async () => {
    for (const format of ['text', 'json'] as const) {
      const out: string[] = [];
      const stream = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WritableStream;
      const gw = await startTestGateway({ simCelsius: 21.5, logger: createConsoleLogger({ level: 'debug', format, stream, env: {} }) });
      const client = await Client.open();
      const peer = client.peer;
      try {
        await client.exchange(gw.port, requestDatagram({ options: pathOptions('/temp') }));
        await turn();
      } finally {
        await client.close();
        await gw.close();
      }
      const lines = out.filter((l) => (format === 'json' ? JSON.parse(l).msg === 'request' : / DEBUG request /.test(l)));
      assert.equal(lines.length, 1, out.join(''));
      const line = lines[0]!;
      if (format === 'text') {
        assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z DEBUG request component=coap peer=${peer.replace(/\./g, '\\.')} type=CON method=GET path=/temp code=2\\.05 ms=\\d+(\\.\\d{1,3})? via=resource\\n$`));
      } else {
        const o = JSON.parse(line) as Record<string, unknown>;
        assert.deepEqual(Object.keys(o), ['time', 'level', 'msg', 'component', 'peer', 'type', 'method', 'path', 'code', 'ms', 'via']);
        assert.equal(o['peer'], peer);
        assert.equal(o['level'], 'debug');
      }
    }
  });
});
