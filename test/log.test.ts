/**
 * The console logger (gateway/log.ts) and its command-line options (gateway/cli/log-options.ts):
 * text and JSON lines on an injected stream, one line per call whatever the text holds, values
 * JSON cannot hold, level filtering, journald's priority prefixes against a real descriptor, and
 * the options' usage errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError, parseCommandLine } from '../gateway/cli/args.ts';
import { LOG_OPTIONS, logSettingsFromOptions, loggerFromOptions } from '../gateway/cli/log-options.ts';
import { type ConsoleLoggerOptions, type Logger, MemoryLogger, createConsoleLogger, isJournalStream, isLevelEnabled, journalPrefix, silentLogger } from '../gateway/log.ts';

const NOW = Date.parse('2026-11-29T22:31:15.123Z');

/** A stream that keeps what is written; `fd` makes it look like a file descriptor's stream. */
function capture(fd?: number): { stream: NodeJS.WritableStream; out: string[] } {
  const out: string[] = [];
  const stream = { write: (s: string) => (out.push(s), true), ...(fd === undefined ? {} : { fd }) } as unknown as NodeJS.WritableStream;
  return { stream, out };
}

function logger(o: ConsoleLoggerOptions = {}): { log: Logger; out: string[] } {
  const { stream, out } = capture();
  return { log: createConsoleLogger({ stream, env: {}, now: () => NOW, ...o }), out };
}

describe('text lines', () => {
  it('ISO-8601 UTC with milliseconds and Z, the level, the message, then key=value', () => {
    const { log, out } = logger();
    log.warn('request failed', { path: '/temp', code: '5.03', n: 3, ok: true, big: 2n ** 70n });
    assert.deepEqual(out, ['2026-11-29T22:31:15.123Z WARN  request failed path=/temp code=5.03 n=3 ok=true big=1180591620717411303424\n']);
  });

  it('quotes a value with spaces, quotes, = or a backslash; an Error reads as its text', () => {
    const { log, out } = logger();
    log.error('x', { a: 'two words', b: 'k=v', c: 'C:\\dir', d: '', e: new RangeError('too hot'), f: undefined, g: { nested: [1, 'two'] } });
    assert.equal(out[0], '2026-11-29T22:31:15.123Z ERROR x a="two words" b="k=v" c="C:\\\\dir" d="" e="RangeError: too hot" f=undefined g={"nested":[1,"two"]}\n');
  });

  it('one call is one line: newlines and control characters are escaped in the message, keys and values', () => {
    const { log, out } = logger();
    // What a module can hand over through gw.log: the host passes its bytes as one message.
    log.info('line one\nline two\r\u001b[31mred\u2028', { stream: 'gw.log', 'odd\nkey': 'v\nw', bare: 'a\u0007b' });
    assert.equal(out.length, 1);
    assert.equal(out[0]!.indexOf('\n'), out[0]!.length - 1, 'the only newline ends the line');
    assert.equal(out[0], '2026-11-29T22:31:15.123Z INFO  line one\\nline two\\r\\u001b[31mred\\u2028 stream=gw.log odd\\nkey="v\\nw" bare=a\\u0007b\n');
  });

  it('the old createConsoleLogger(level, stream) form still works', () => {
    const { stream, out } = capture();
    const log = createConsoleLogger('warn', stream);
    log.info('dropped');
    log.warn('kept');
    assert.equal(out.length, 1);
    assert.match(out[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  kept\n$/);
  });
});

describe('JSON lines', () => {
  it('one object per line: time, level, msg first, then the fields (bound ones first)', () => {
    const { log, out } = logger({ format: 'json' });
    log.child({ component: 'coap' }).info('CoAP server listening', { port: 5683 });
    assert.deepEqual(out, ['{"time":"2026-11-29T22:31:15.123Z","level":"info","msg":"CoAP server listening","component":"coap","port":5683}\n']);
  });

  it('a field cannot overwrite time, level or msg: it gets an underscore, more if that is taken', () => {
    const { log, out } = logger({ format: 'json' });
    log.error('real', { time: 'fake', level: 'debug', msg: 'forged', _msg: 'mine' });
    const o = JSON.parse(out[0]!) as Record<string, unknown>;
    assert.deepEqual(o, { time: '2026-11-29T22:31:15.123Z', level: 'error', msg: 'real', _time: 'fake', _level: 'debug', __msg: 'forged', _msg: 'mine' });
  });

  it('values JSON cannot hold are written safely, and the logger never throws', () => {
    const { log, out } = logger({ format: 'json' });
    const cycle: Record<string, unknown> = { name: 'c' };
    cycle['self'] = cycle;
    const err = Object.assign(new Error('no ack'), { code: 'GW_ERR_I2C_NACK' });
    const hostile = { toJSON() { throw new Error('nope'); } };
    log.warn('values', { big: 12345678901234567890n, err, u: undefined, nan: NaN, inf: -Infinity, fn: function probe() {}, cycle, map: new Map([['a', 1]]), set: new Set([1, 2]) });
    log.warn('hostile', { hostile });
    assert.equal(out.length, 2);
    const o = JSON.parse(out[0]!) as Record<string, unknown>;
    assert.equal(o['big'], '12345678901234567890');
    assert.deepEqual({ ...(o['err'] as object), stack: undefined }, { name: 'Error', message: 'no ack', code: 'GW_ERR_I2C_NACK', stack: undefined });
    assert.match((o['err'] as { stack: string }).stack, /^Error: no ack\n/, 'the stack is kept, escaped inside the string');
    assert.equal(o['u'], null);
    assert.equal(o['nan'], 'NaN');
    assert.equal(o['inf'], '-Infinity');
    assert.equal(o['fn'], '[Function probe]');
    assert.deepEqual(o['cycle'], { name: 'c', self: '[Circular]' });
    assert.deepEqual(o['map'], { a: 1 });
    assert.deepEqual(o['set'], [1, 2]);
    assert.deepEqual(JSON.parse(out[1]!), { time: '2026-11-29T22:31:15.123Z', level: 'warn', msg: 'hostile', hostile: '[unserializable: nope]' }, 'the rest of the line is kept');
  });

  it('a message with newlines is one line and reads back exactly', () => {
    const { log, out } = logger({ format: 'json' });
    const text = 'panic: sensor exploded\n\tgoroutine 1\r\n\u0085\u2028end';
    log.warn(text, { stream: 'stderr' });
    assert.equal(out.length, 1);
    assert.equal(out[0]!.indexOf('\n'), out[0]!.length - 1);
    assert.doesNotMatch(out[0]!.slice(0, -1), /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    assert.equal(JSON.parse(out[0]!).msg, text);
  });

  it('a field named __proto__ is an ordinary key', () => {
    const { log, out } = logger({ format: 'json' });
    log.info('p', JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>);
    assert.deepEqual(JSON.parse(out[0]!)['__proto__'], { polluted: true });
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

describe('levels', () => {
  it('writes the level asked for and above; isLevelEnabled says so, for children too', () => {
    const { log, out } = logger({ level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    assert.deepEqual(out.map((l) => l.split(' ')[1]), ['WARN', 'ERROR']);
    const child = log.child({ component: 'coap' });
    assert.deepEqual(['debug', 'info', 'warn', 'error'].map((l) => isLevelEnabled(child, l as 'debug')), [false, false, true, true]);
  });

  it('MemoryLogger and silentLogger answer isLevelEnabled; a Logger without it counts as enabled', () => {
    assert.equal(isLevelEnabled(new MemoryLogger(), 'debug'), true);
    assert.equal(isLevelEnabled(new MemoryLogger('info'), 'debug'), false);
    assert.equal(isLevelEnabled(new MemoryLogger('info').child({ a: 1 }), 'info'), true);
    assert.equal(isLevelEnabled(silentLogger, 'error'), false);
    const bare: Logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return bare; } };
    assert.equal(isLevelEnabled(bare, 'debug'), true);
  });
});

describe('journald (JOURNAL_STREAM, sd-daemon(3))', () => {
  let dir: string;
  let fd: number;
  let id: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-log-'));
    fd = openSync(join(dir, 'journal'), 'w');
    const st = fstatSync(fd, { bigint: true });
    id = `${st.dev}:${st.ino}`;
  });
  after(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('when JOURNAL_STREAM names the stream: a priority prefix per level, and no timestamp in text', () => {
    const { stream, out } = capture(fd);
    const log = createConsoleLogger({ level: 'debug', stream, env: { JOURNAL_STREAM: id }, now: () => NOW });
    log.debug('d');
    log.info('i', { k: 1 });
    log.warn('w');
    log.error('e');
    assert.deepEqual(out, ['<7>DEBUG d\n', '<6>INFO  i k=1\n', '<4>WARN  w\n', '<3>ERROR e\n']);
  });

  it('JSON lines get the prefix too and keep their time', () => {
    const { stream, out } = capture(fd);
    createConsoleLogger({ format: 'json', stream, env: { JOURNAL_STREAM: id }, now: () => NOW }).warn('w');
    assert.deepEqual(out, ['<4>{"time":"2026-11-29T22:31:15.123Z","level":"warn","msg":"w"}\n']);
  });

  it('no prefix when JOURNAL_STREAM names another file, is malformed or unset, or the stream has no descriptor', () => {
    const st = fstatSync(fd, { bigint: true });
    for (const env of [{ JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` }, { JOURNAL_STREAM: `${st.dev + 1n}:${st.ino}` }, { JOURNAL_STREAM: 'journal' }, { JOURNAL_STREAM: '' }, {}]) {
      assert.equal(isJournalStream(env, fd), false, JSON.stringify(env));
      const { stream, out } = capture(fd);
      createConsoleLogger({ stream, env, now: () => NOW }).warn('w');
      assert.deepEqual(out, ['2026-11-29T22:31:15.123Z WARN  w\n'], JSON.stringify(env));
    }
    assert.equal(isJournalStream({ JOURNAL_STREAM: id }, fd), true);
    assert.equal(isJournalStream({ JOURNAL_STREAM: id }, undefined), false);
    const { stream, out } = capture();
    createConsoleLogger({ stream, env: { JOURNAL_STREAM: id }, now: () => NOW }).warn('w');
    assert.deepEqual(out, ['2026-11-29T22:31:15.123Z WARN  w\n'], 'a stream without fd is not the journal');
  });

  it('a process whose stderr (fd 2) is the file JOURNAL_STREAM names gets prefixes from the default logger', () => {
    const script = "import { createConsoleLogger } from './gateway/log.ts'; createConsoleLogger().warn('w', { a: 1 });";
    const run = (env: NodeJS.ProcessEnv) => {
      const file = join(dir, `stderr-${Object.keys(env).length}-${Math.random()}`);
      const out = openSync(file, 'w');
      try {
        const st = fstatSync(out, { bigint: true });
        const journal = env['JOURNAL_STREAM'] === 'this file' ? { JOURNAL_STREAM: `${st.dev}:${st.ino}` } : env;
        const { JOURNAL_STREAM: _, ...rest } = process.env;
        const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..'), env: { ...rest, ...journal }, stdio: ['ignore', 'ignore', out] });
        assert.equal(r.status, 0);
      } finally {
        closeSync(out);
      }
      return readFileSync(file, 'utf8');
    };
    assert.equal(run({ JOURNAL_STREAM: 'this file' }), '<4>WARN  w a=1\n');
    assert.match(run({ JOURNAL_STREAM: id }), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  w a=1\n$/, 'inherited from a parent whose stderr was the journal');
    assert.match(run({}), /^\d{4}-.*Z WARN  w a=1\n$/);
  });

  it('journalPrefix gives the prefix for text written without the logger, only on the journal', () => {
    assert.equal(journalPrefix('error', { env: { JOURNAL_STREAM: id }, stream: capture(fd).stream }), '<3>');
    assert.equal(journalPrefix('warn', { env: { JOURNAL_STREAM: id }, stream: capture(fd).stream }), '<4>');
    assert.equal(journalPrefix('error', { env: {}, stream: capture(fd).stream }), '');
    assert.equal(journalPrefix('error', { env: { JOURNAL_STREAM: id }, stream: capture().stream }), '');
  });

  it('journal: true or false overrides the detection', () => {
    const { stream, out } = capture();
    createConsoleLogger({ stream, journal: true, now: () => NOW }).info('i');
    createConsoleLogger({ stream: capture(fd).stream, journal: false, env: { JOURNAL_STREAM: id } }).info('not here');
    assert.deepEqual(out, ['<6>INFO  i\n']);
  });
});

describe('--log-level, --log-format, --verbose and GW_LOG_*', () => {
  const parse = (...argv: string[]) => parseCommandLine(argv, LOG_OPTIONS);
  const settings = (argv: string[], env: NodeJS.ProcessEnv = {}, level: 'info' | 'error' = 'info') => logSettingsFromOptions(parse(...argv), { level }, env);

  it('defaults, flags, --verbose, and the environment under the flags', () => {
    assert.deepEqual(settings([]), { level: 'info', format: 'text' });
    assert.deepEqual(settings([], {}, 'error'), { level: 'error', format: 'text' });
    assert.deepEqual(settings(['--log-level', 'warn', '--log-format=json']), { level: 'warn', format: 'json' });
    assert.deepEqual(settings(['--verbose']), { level: 'debug', format: 'text' });
    assert.deepEqual(settings(['--verbose', '--log-level', 'debug']), { level: 'debug', format: 'text' });
    assert.deepEqual(settings([], { GW_LOG_LEVEL: 'warn', GW_LOG_FORMAT: 'json' }), { level: 'warn', format: 'json' });
    assert.deepEqual(settings(['--log-level', 'error', '--log-format', 'text'], { GW_LOG_LEVEL: 'debug', GW_LOG_FORMAT: 'json' }), { level: 'error', format: 'text' });
    assert.deepEqual(settings(['--verbose'], { GW_LOG_LEVEL: 'error' }), { level: 'debug', format: 'text' });
    assert.deepEqual(settings([], { GW_LOG_LEVEL: 'WARN', GW_LOG_FORMAT: ' JSON ' }), { level: 'warn', format: 'json' }, 'case and spaces do not matter');
    assert.deepEqual(settings([], { GW_LOG_LEVEL: '', GW_LOG_FORMAT: '' }), { level: 'info', format: 'text' }, 'an empty variable is unset');
  });

  it('usage errors name the flag or the variable and the value', () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['--log-level', 'loud'], {}, /^--log-level must be debug, info, warn or error, got "loud"$/],
      [['--log-level', ''], {}, /^--log-level must be/],
      [['--log-format', 'xml'], {}, /^--log-format must be text or json, got "xml"$/],
      [['--verbose', '--log-level', 'warn'], {}, /--verbose means --log-level debug; it cannot be combined with --log-level warn/],
      [[], { GW_LOG_LEVEL: 'verbose' }, /^GW_LOG_LEVEL must be debug, info, warn or error, got "verbose"$/],
      [[], { GW_LOG_FORMAT: 'logfmt' }, /^GW_LOG_FORMAT must be text or json, got "logfmt"$/],
    ];
    for (const [argv, env, message] of cases) {
      assert.throws(() => settings(argv, env), (err: unknown) => err instanceof UsageError && message.test(err.message), `${argv.join(' ')} ${JSON.stringify(env)}`);
    }
    assert.throws(() => parse('--log-level'), UsageError, 'a level is needed');
    assert.throws(() => parse('--verbose=yes'), UsageError);
  });

  it('loggerFromOptions builds the console logger they describe', () => {
    const { stream, out } = capture();
    const log = loggerFromOptions(parse('--log-format', 'json'), { level: 'info' }, { env: { GW_LOG_LEVEL: 'warn' }, stream });
    log.info('dropped');
    log.warn('kept', { n: 1 });
    assert.equal(out.length, 1);
    const o = JSON.parse(out[0]!) as Record<string, unknown>;
    assert.deepEqual({ ...o, time: undefined }, { time: undefined, level: 'warn', msg: 'kept', n: 1 });
    assert.match(o['time'] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.throws(() => loggerFromOptions(parse(), { level: 'info' }, { env: { GW_LOG_FORMAT: 'yaml' }, stream }), UsageError);
  });
});
