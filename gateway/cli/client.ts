/**
 * `npm run client`: a CoAP client for people, built on node-coap.
 *
 *   npm run client -- get coap://127.0.0.1/temp                    # CBOR, printed as JSON
 *   npm run client -- get coap://[::1]:5683/temp --accept senml+json
 *   npm run client -- fetch coap://127.0.0.1/temp --payload '{"unit":"K"}'
 *   npm run client -- get coap://127.0.0.1/temp --observe 30
 *   npm run client -- put coap://127.0.0.1/temp/alert --payload '{"high":30}' --oscore client/settings.json
 *
 * The payload goes to stdout; the status line and options go to stderr, so that
 * `npm run client -- ... | jq` sees only the representation. Exit status: 0 for a 2.xx response,
 * 1 for any other response code, a timeout or a network error, 2 for a usage error.
 */
import { OscoreExchange } from '../client/oscore-exchange.ts';
import { CoapExchange, type ClientResponse, type CoapMethod, type RequestSpec, ResponseTimeoutError } from '../client/coap-exchange.ts';
import { describeFormat, parseFormatArgument } from '../client/content-formats.ts';
import { contentFormatOf, describeResponse } from '../client/describe-response.ts';
import { renderPayload } from '../client/render-payload.ts';
import { CBOR_CONTENT_FORMAT, encodeJsonPayload } from '../client/request-body.ts';
import { isSuccess } from '../client/response-codes.ts';
import { TargetUnreachableError, parseCoapUri, resolveTarget } from '../client/target.ts';
import { UsageError, numberOption, parseCommandLine } from './args.ts';
import { runCli } from './run-cli.ts';
import { type Output, STDIO } from './output.ts';

const USAGE = `usage: npm run client -- [get|post|put|delete|fetch] <coap://host[:port]/path> [options]
  --method <m>        get (default), post, put, delete or fetch; may also be the first word
  --accept <fmt>      Accept option: a Content-Format number, or text, link-format, json, cbor,
                      senml+json, senml+cbor (and a few more, or a media type)
  --payload <json>    request body, given as JSON and sent as CBOR (Content-Format 60)
  --observe <s>       observe the resource (RFC 7641) for <s> seconds, printing each notification
  --non               send a non-confirmable (NON) request
  --timeout <s>       seconds to wait for the response (default ${10})
  --oscore <file>     protect the request with OSCORE (RFC 8613): an aiocoap-style settings.json
                      with this client's sender-id_hex, recipient-id_hex, secret_hex, salt_hex
                      (docs/security.md); sequence numbers are kept in <file>.seq
  --verbose           also print the request, the peer's address and the payload size
  -h, --help

IPv6 literals go in brackets: coap://[::1]/temp. The payload is printed on stdout (CBOR and
SenML-CBOR decoded to JSON, text as is); the response code and options on stderr, and so is the
body of an error response.
Exit status: 0 for a 2.xx response, 1 for another response code, a timeout or a network error,
2 for a usage error.`;

const METHODS: Record<string, CoapMethod> = { get: 'GET', post: 'POST', put: 'PUT', delete: 'DELETE', fetch: 'FETCH' };
const DEFAULT_TIMEOUT_S = 10;


async function main(argv: string[], io: Output): Promise<number> {
  const args = parseCommandLine(argv, {
    method: { value: true, short: 'm' },
    accept: { value: true, short: 'A' },
    payload: { value: true },
    observe: { value: true },
    non: {},
    timeout: { value: true },
    verbose: { short: 'v' },
    oscore: { value: true },
    help: { short: 'h' },
  });
  if (args.options['help']) {
    io.out(USAGE);
    return 0;
  }
  const words = [...args.positionals];
  let method: CoapMethod | undefined;
  if (words.length > 0 && METHODS[words[0]!.toLowerCase()]) method = METHODS[words.shift()!.toLowerCase()];
  const methodOpt = args.options['method'];
  if (typeof methodOpt === 'string') {
    const m = METHODS[methodOpt.toLowerCase()];
    if (!m) throw new UsageError(`--method must be one of ${Object.keys(METHODS).join(', ')}; got ${JSON.stringify(methodOpt)}`);
    if (method && method !== m) throw new UsageError(`the method is given twice: ${method} and --method ${methodOpt}`);
    method = m;
  }
  method ??= 'GET';
  if (words.length === 0) throw new UsageError('missing the URI (coap://host/path)');
  if (words.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(words[1])}`);
  const target = parseCoapUri(words[0]!);

  const accept = typeof args.options['accept'] === 'string' ? parseFormatArgument('accept', args.options['accept']) : undefined;
  const timeoutS = numberOption(args, 'timeout') ?? DEFAULT_TIMEOUT_S;
  if (!(timeoutS > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  const observeS = numberOption(args, 'observe');
  if (observeS !== undefined && !(observeS > 0)) throw new UsageError('--observe must be a positive number of seconds');
  // RFC 7641 registers Observe for GET; RFC 8132 section 2.4 extends it to FETCH.
  if (observeS !== undefined && method !== 'GET' && method !== 'FETCH') throw new UsageError(`--observe works with get and fetch, not ${method.toLowerCase()}`);
  let payload: Buffer | undefined;
  if (typeof args.options['payload'] === 'string') {
    // RFC 7252 section 5.8.1 and 5.8.4 define no payload for GET and DELETE; FETCH (RFC 8132) is the safe method with a body.
    if (method === 'GET' || method === 'DELETE') throw new UsageError(`${method} carries no payload; use fetch (or post, put)`);
    payload = encodeJsonPayload(args.options['payload']);
  }
  const verbose = args.options['verbose'] === true;

  const address = await resolveTarget(target);
  const spec: RequestSpec = {
    method,
    target,
    address,
    confirmable: args.options['non'] !== true,
    ...(accept !== undefined ? { accept } : {}),
    ...(payload !== undefined ? { payload, contentFormat: CBOR_CONTENT_FORMAT } : {}),
  };
  if (verbose) {
    const where = address.family === 6 ? `[${address.address}]:${target.port}` : `${address.address}:${target.port}`;
    io.err(`${spec.confirmable ? 'CON' : 'NON'} ${method} ${target.uri} -> ${where}`);
    if (accept !== undefined) io.err(`  Accept: ${describeFormat(accept)}`);
    if (payload) io.err(`  Content-Format: ${describeFormat(CBOR_CONTENT_FORMAT)}, ${payload.length} bytes: ${payload.toString('hex')}`);
  }

  const oscoreFile = args.options['oscore'];
  if (oscoreFile !== undefined && typeof oscoreFile !== 'string') throw new UsageError('--oscore needs the path of a settings.json');
  const exchange = oscoreFile === undefined ? CoapExchange.for(address) : await OscoreExchange.open(address, target.port, oscoreFile);
  try {
    if (observeS === undefined) {
      const res = await exchange.request(spec, timeoutS * 1000);
      show(res, io, verbose);
      return isSuccess(res.code) ? 0 : 1;
    }
    let count = 0;
    const outcome = await exchange.observe(spec, timeoutS * 1000, observeS * 1000, (n) => {
      count++;
      show(n, io, verbose);
    });
    if (!outcome.registered && isSuccess(outcome.last.code)) io.err('note: the response has no Observe option; the server did not register the observation (RFC 7641 section 3.1)');
    if (verbose) io.err(`${count} notification(s)`);
    return isSuccess(outcome.last.code) ? 0 : 1;
  } catch (err) {
    if (err instanceof ResponseTimeoutError || err instanceof TargetUnreachableError) {
      io.err(`error: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    if (exchange instanceof OscoreExchange) await exchange.close();
  }
}

function show(res: ClientResponse, io: Output, verbose: boolean): void {
  for (const line of describeResponse(res)) io.err(line);
  if (verbose) io.err(`  from ${res.remote.address} port ${res.remote.port}, ${res.payload.length} payload bytes`);
  const rendered = renderPayload(res.payload, contentFormatOf(res));
  if (rendered.problem) io.err(`note: ${rendered.problem}`);
  if (res.payload.length === 0) return;
  // An error body (the gateway's {"code": "GW_ERR_...", "message": ...}) is diagnostics, not the resource.
  if (isSuccess(res.code)) io.out(rendered.text);
  else io.err(rendered.text);
}

runCli(() => main(process.argv.slice(2), STDIO), USAGE);
