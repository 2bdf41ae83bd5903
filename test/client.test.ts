/**
 * `npm run client`: its pieces in-process, then the real command as a child process against an
 * independent server (libcoap's coap-server-notls) and against the gateway, checking what it
 * prints and its exit status (0 for 2.xx, 1 for other codes and timeouts, 2 for usage errors).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { type TestContext, after, before, describe, it } from 'node:test';
import { parseFormatArgument } from '../gateway/client/content-formats.ts';
import { renderPayload } from '../gateway/client/render-payload.ts';
import { encodeJsonPayload } from '../gateway/client/request-body.ts';
import { isSuccess, statusLine } from '../gateway/client/response-codes.ts';
import { parseCoapUri } from '../gateway/client/target.ts';
import { UsageError } from '../gateway/cli/args.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { LIBCOAP_HINT, LIBCOAP_SERVER, type ProcessResult, type RunningPeerServer, findExecutable, peerOrSkip, runProcess, startLibcoapServer } from './helpers/peers.ts';

const root = new URL('..', import.meta.url).pathname;

interface ClientRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI in its own process (node --import tsx, as `npm run client` does via tsx). */
async function client(...args: string[]): Promise<ClientRun> {
  const r: ProcessResult = await runProcess(process.execPath, ['--import', 'tsx', 'gateway/cli/client.ts', ...args], { cwd: root, timeoutMs: 30_000 });
  assert.equal(r.timedOut, false, `client ${args.join(' ')} was killed after 30 s`);
  return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

describe('client pieces', () => {
  it('splits a coap URI into options; IPv6 literals lose their brackets; 5683 is the default port', () => {
    const t = parseCoapUri('coap://[::1]/temp');
    assert.equal(t.host, '::1');
    assert.equal(t.port, 5683);
    assert.deepEqual(t.path.map(String), ['temp']);
    const u = parseCoapUri('coap://127.0.0.1:5684/a%2Fb/c?x=1&y=%20');
    assert.equal(u.port, 5684);
    assert.deepEqual(u.path.map(String), ['a/b', 'c'], 'an encoded slash stays inside its Uri-Path (RFC 7252 section 6.4)');
    assert.deepEqual(u.query.map(String), ['x=1', 'y= ']);
    assert.deepEqual(parseCoapUri('coap://127.0.0.1/').path, []);
  });

  it('refuses coaps, other schemes and non-URIs as usage errors', () => {
    assert.throws(() => parseCoapUri('coaps://127.0.0.1/temp'), UsageError);
    assert.throws(() => parseCoapUri('http://127.0.0.1/temp'), UsageError);
    assert.throws(() => parseCoapUri('127.0.0.1/temp'), UsageError);
  });

  it('takes --accept as a number, a short name or a media type', () => {
    assert.equal(parseFormatArgument('accept', '60'), 60);
    assert.equal(parseFormatArgument('accept', 'cbor'), 60);
    assert.equal(parseFormatArgument('accept', 'senml+cbor'), 112);
    assert.equal(parseFormatArgument('accept', 'senml+json'), 110);
    assert.equal(parseFormatArgument('accept', 'json'), 50);
    assert.equal(parseFormatArgument('accept', 'text'), 0);
    assert.equal(parseFormatArgument('accept', 'application/senml+cbor'), 112);
    assert.throws(() => parseFormatArgument('accept', 'xml-ish'), UsageError);
    assert.throws(() => parseFormatArgument('accept', '65536'), UsageError);
  });

  it('shows CBOR as JSON, SenML-CBOR with SenML-JSON names, text as text, and the rest as hex', () => {
    // {"value": 21.5, "unit": "Cel"}
    assert.equal(renderPayload(Buffer.from('a26576616c7565f94d6064756e69746343656c', 'hex'), 60).text, '{"value":21.5,"unit":"Cel"}');
    // [{-2: "tmp102/", 0: "temperature", 1: "Cel", 2: 21.5}] (RFC 8428 section 6 labels)
    const senml = Buffer.from('81a4' + '2167746d703130322f' + '006b74656d7065726174757265' + '016343656c' + '02f94d60', 'hex');
    assert.equal(renderPayload(senml, 112).text, '[{"bn":"tmp102/","n":"temperature","u":"Cel","v":21.5}]');
    assert.equal(renderPayload(Buffer.from('21.5 Cel'), 0).text, '21.5 Cel');
    const bad = renderPayload(Buffer.from([0xff, 0x00]), undefined);
    assert.equal(bad.text, 'ff 00');
    assert.ok(bad.problem);
    const notCbor = renderPayload(Buffer.from([0x1c]), 60);
    assert.match(notCbor.problem ?? '', /not valid CBOR/);
  });

  it('sends --payload JSON as preferred-serialization CBOR', () => {
    // RFC 8949 section 4.2.1: a one-entry map has a one-byte head (a1), not cbor-x's b9 00 01.
    assert.equal(encodeJsonPayload('{"unit":"K"}').toString('hex'), 'a164756e6974614b');
    assert.throws(() => encodeJsonPayload('{unit: K}'), UsageError);
  });

  it('names response codes and tells success by the 2.xx class', () => {
    assert.equal(statusLine('2.05'), '2.05 Content');
    assert.equal(statusLine('4.06'), '4.06 Not Acceptable');
    assert.equal(statusLine('4.29'), '4.29 Too Many Requests');
    assert.equal(statusLine('6.66'), '6.66');
    assert.equal(isSuccess('2.04'), true);
    assert.equal(isSuccess('4.04'), false);
  });
});

// Each case is its own short-lived process with nothing shared: run them side by side.
describe('npm run client: usage errors exit 2', { concurrency: true }, () => {
  const cases: [string, string[]][] = [
    ['no URI', ['get']],
    ['an unknown --accept name', ['get', 'coap://127.0.0.1/temp', '--accept', 'yaml']],
    ['a payload on GET', ['get', 'coap://127.0.0.1/temp', '--payload', '{"unit":"K"}']],
    ['a payload that is not JSON', ['fetch', 'coap://127.0.0.1/temp', '--payload', '{unit:K}']],
    ['coaps', ['get', 'coaps://127.0.0.1/temp']],
    ['an unknown option', ['get', 'coap://127.0.0.1/temp', '--bogus']],
    ['two different methods', ['get', 'coap://127.0.0.1/temp', '--method', 'post']],
    ['a negative timeout', ['get', 'coap://127.0.0.1/temp', '--timeout', '-1']],
    ['observe with post', ['post', 'coap://127.0.0.1/temp', '--observe', '5']],
  ];
  for (const [what, args] of cases) {
    it(`refuses ${what}`, async () => {
      const r = await client(...args);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, /usage: npm run client/);
      assert.equal(r.stdout, '');
    });
  }
});

describe('npm run client against a silent peer', () => {
  it('exits 1 after --timeout when nothing answers', async () => {
    // A bound socket that never answers: no ICMP port unreachable, a real timeout.
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const r = await client('get', `coap://127.0.0.1:${silent.address().port}/temp`, '--timeout', '0.5');
      assert.equal(r.exitCode, 1);
      assert.match(r.stderr, /no response within 0\.5 s/);
      assert.equal(r.stdout, '');
      assert.ok(Date.now() - started < 15_000);
    } finally {
      silent.close();
    }
  });
});

describe('npm run client against libcoap coap-server-notls (an independent server)', () => {
  let server: RunningPeerServer | undefined;
  before(async () => {
    const bin = findExecutable(LIBCOAP_SERVER);
    if (bin) server = await startLibcoapServer(bin);
  });
  after(() => server?.close());

  /** The server's base URI, or undefined after skipping (or throwing under COAP_INTEROP_REQUIRED=1). */
  function base(t: TestContext, host = '127.0.0.1'): string | undefined {
    if (!peerOrSkip(t, LIBCOAP_SERVER, LIBCOAP_HINT)) return undefined;
    assert.ok(server, 'coap-server-notls did not start');
    return `coap://${host}:${server.port}`;
  }

  it('GET /time: 2.05 on stderr, the text on stdout, exit 0', async (t) => {
    const uri = base(t);
    if (!uri) return;
    const r = await client('get', `${uri}/time`);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /^2\.05 Content$/m);
    assert.match(r.stderr, /Max-Age: 1 s/);
    // libcoap's /time is the server clock as "Mon DD HH:MM:SS".
    assert.match(r.stdout, /^[A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2}\n$/);
  });

  it('GET over IPv6 loopback: coap://[::1]:port/time', async (t) => {
    const uri = base(t, '[::1]');
    if (!uri) return;
    const r = await client(`${uri}/time`);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /\d{2}:\d{2}:\d{2}/);
  });

  it('GET /.well-known/core lists /time as link-format (Content-Format 40)', async (t) => {
    const uri = base(t);
    if (!uri) return;
    const r = await client('get', `${uri}/.well-known/core`);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /Content-Format: 40 \(application\/link-format\)/);
    assert.match(r.stdout, /<\/time>;/);
  });

  it('a 4.04 exits 1 and prints the code on stderr, nothing on stdout', async (t) => {
    const uri = base(t);
    if (!uri) return;
    const r = await client('get', `${uri}/no-such-resource`);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^4\.04 Not Found$/m);
    assert.equal(r.stdout, '');
  });

  it('PUT a JSON payload as CBOR, then GET it back decoded', async (t) => {
    const uri = base(t);
    if (!uri) return;
    // libcoap's /example_data stores what is PUT along with its Content-Format.
    const put = await client('put', `${uri}/example_data`, '--payload', '{"a":[1,-2.5,"x"]}');
    assert.match(put.stderr, /^2\.0[14] (Created|Changed)$/m);
    assert.equal(put.exitCode, 0);
    const get = await client('get', `${uri}/example_data`, '--non');
    assert.equal(get.exitCode, 0, get.stderr);
    assert.match(get.stderr, /Content-Format: 60 \(application\/cbor\)/);
    assert.deepEqual(JSON.parse(get.stdout), { a: [1, -2.5, 'x'] });
  });

  it('--observe prints each notification of /time as it arrives, then deregisters and exits 0', async (t) => {
    const uri = base(t);
    if (!uri) return;
    const r = await client('get', `${uri}/time`, '--observe', '2.5');
    assert.equal(r.exitCode, 0, r.stderr);
    // libcoap notifies /time once a second: the registration response plus two or three more.
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.length >= 3, r.stdout);
    assert.ok((r.stderr.match(/^  Observe: \d+$/gm) ?? []).length >= 3, r.stderr);
  });
  it('--observe on a missing resource exits 1 with the 4.04', async (t) => {
    const uri = base(t);
    if (!uri) return;
    const r = await client('get', `${uri}/no-such-resource`, '--observe', '5');
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^4\.04 Not Found$/m);
  });
});

describe('npm run client against the gateway', () => {
  let gw: TestGateway;
  let uri: string;
  before(async () => {
    gw = await startTestGateway({ simCelsius: -12.25 });
    uri = `coap://127.0.0.1:${gw.port}/temp`;
  });
  after(() => gw?.close());

  it('get (CBOR, the default) prints the reading as JSON', async () => {
    const r = await client('get', uri);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /^2\.05 Content$/m);
    assert.match(r.stderr, /Content-Format: 60 \(application\/cbor\)/);
    assert.match(r.stderr, /Max-Age: \d+ s/);
    const reading = JSON.parse(r.stdout);
    assert.equal(reading.value, -12.25);
    assert.equal(reading.unit, 'Cel');
  });

  it('--accept senml+cbor prints SenML with the JSON names (RFC 8428 section 6)', async () => {
    const r = await client('get', uri, '--accept', 'senml+cbor');
    assert.equal(r.exitCode, 0, r.stderr);
    const pack = JSON.parse(r.stdout) as { v?: number; u?: string }[];
    const rec = pack.find((x) => typeof x.v === 'number');
    assert.equal(rec?.v, -12.25);
    assert.equal(rec?.u, 'Cel');
  });

  it('--accept senml+json prints the text the server sent', async () => {
    const r = await client(uri, '--accept', '110');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /Content-Format: 110 \(application\/senml\+json\)/);
    assert.ok(Array.isArray(JSON.parse(r.stdout)));
  });

  it('--method fetch --payload sends the parameters as CBOR', async () => {
    const r = await client(uri, '--method', 'fetch', '--payload', '{"unit":"K","precision":1}');
    assert.equal(r.exitCode, 0, r.stderr);
    const reading = JSON.parse(r.stdout);
    assert.equal(reading.unit, 'K');
    assert.equal(reading.value, 260.9);
  });

  it('over IPv6 loopback, to a dual-stack gateway', async () => {
    const dual = await startTestGateway({ simCelsius: 7.5, host: '::' });
    try {
      const r = await client('get', `coap://[::1]:${dual.port}/temp`, '--accept', 'json');
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).value, 7.5);
    } finally {
      await dual.close();
    }
  });

  it('an error response exits 1 and prints its decoded CBOR body on stderr', async () => {
    const r = await client('get', uri, '--accept', '41');
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^4\.06 Not Acceptable$/m);
    const body = r.stderr.split('\n').find((l) => l.startsWith('{'));
    assert.equal(JSON.parse(body ?? 'null')?.code, 'GW_ERR_REQUEST_NOT_ACCEPTABLE');
    assert.equal(r.stdout, '');
  });

  it('a refused FETCH parameter exits 1 with GW_ERR_REQUEST_BAD_PARAMETER', async () => {
    const r = await client('fetch', uri, '--payload', '{"unit":"furlong"}');
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^4\.00 Bad Request$/m);
    assert.match(r.stderr, /"code":"GW_ERR_REQUEST_BAD_PARAMETER"/);
  });

  it('--verbose describes the request too', async () => {
    const r = await client('get', uri, '--verbose', '--non');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /^NON GET coap:\/\/127\.0\.0\.1:\d+\/temp -> 127\.0\.0\.1:\d+$/m);
    assert.match(r.stderr, /from 127\.0\.0\.1 port \d+, \d+ payload bytes/);
  });
});

describe('missing peers', () => {
  function withEnv(env: Record<string, string | undefined>, fn: () => void): void {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    try {
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
  const stub = () => {
    const skipped: string[] = [];
    return { skipped, t: { skip: (m?: string) => void skipped.push(m ?? '') } as unknown as TestContext };
  };

  it('skip with the install hint on a developer machine', () => {
    const { skipped, t } = stub();
    withEnv({ PATH: '/nonexistent', COAP_INTEROP_REQUIRED: undefined }, () => {
      assert.equal(peerOrSkip(t, 'coap-client-notls', LIBCOAP_HINT), undefined);
    });
    assert.equal(skipped.length, 1);
    assert.match(skipped[0]!, /coap-client-notls is not on PATH \(apt-get install libcoap3-bin\)/);
  });

  it('fail under COAP_INTEROP_REQUIRED=1, as .ci/run sets it', () => {
    const { skipped, t } = stub();
    withEnv({ PATH: '/nonexistent', COAP_INTEROP_REQUIRED: '1' }, () => {
      assert.throws(() => peerOrSkip(t, 'aiocoap-client', 'pip install aiocoap'), /COAP_INTEROP_REQUIRED=1/);
    });
    assert.equal(skipped.length, 0);
  });
});
