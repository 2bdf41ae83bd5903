// Checks, on the host, what the arm64 guest printed (test/arm64/run.sh). Plain Node, no
// dependencies: the host's node_modules may not be installed when the tier runs.
//
//   node test/arm64/check-output.mjs read-json FILE   the last line of FILE is `npm run read --json`'s
//                                                     reading: a number, and simulated: true
//   node test/arm64/check-output.mjs cbor-reading FILE  FILE is a GET /temp payload (Accept 60): a
//                                                     CBOR map with sensor, a numeric value and sim: true
//   node test/arm64/check-output.mjs elf-machine FILE  prints the ELF machine of FILE (aarch64, x86_64, ...)
//
// Prints what it found on one line; exit 0 when it is what the contract says, 1 otherwise.
import { readFileSync } from 'node:fs';

const [mode, file] = process.argv.slice(2);

function fail(msg) {
  console.log(`not as expected: ${msg}`);
  process.exit(1);
}

// A small CBOR decoder (RFC 8949): enough for a reading (maps, arrays, text, integers, floats,
// simple values, tags). Throws on anything malformed or truncated.
function decodeCbor(buf) {
  let pos = 0;
  const need = (n) => {
    if (pos + n > buf.length) throw new Error(`truncated at byte ${pos}`);
  };
  const half = (h) => {
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    const v = exp === 0 ? mant * 2 ** -24 : exp === 31 ? (mant ? NaN : Infinity) : (mant + 1024) * 2 ** (exp - 25);
    return h & 0x8000 ? -v : v;
  };
  const arg = (info) => {
    if (info < 24) return info;
    const n = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!n) throw new Error(`unsupported additional info ${info} at byte ${pos - 1}`);
    need(n);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + buf[pos + i];
    pos += n;
    return v;
  };
  const item = () => {
    need(1);
    const ib = buf[pos++];
    const major = ib >> 5;
    const info = ib & 0x1f;
    if (major === 7) {
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      if (info === 23) return undefined;
      const dv = new DataView(buf.buffer, buf.byteOffset);
      if (info === 25) { need(2); const v = half(dv.getUint16(pos)); pos += 2; return v; }
      if (info === 26) { need(4); const v = dv.getFloat32(pos); pos += 4; return v; }
      if (info === 27) { need(8); const v = dv.getFloat64(pos); pos += 8; return v; }
      throw new Error(`unsupported simple value ${info}`);
    }
    const n = arg(info);
    switch (major) {
      case 0: return n;
      case 1: return -1 - n;
      case 2: { need(n); const v = buf.subarray(pos, pos + n); pos += n; return v; }
      case 3: { need(n); const v = buf.subarray(pos, pos + n).toString('utf8'); pos += n; return v; }
      case 4: { const a = []; for (let i = 0; i < n; i++) a.push(item()); return a; }
      case 5: { const m = {}; for (let i = 0; i < n; i++) { const k = item(); m[String(k)] = item(); } return m; }
      case 6: return item(); // a tag: its content is what counts here
    }
    throw new Error('unreachable');
  };
  const v = item();
  if (pos !== buf.length) throw new Error(`${buf.length - pos} bytes after the item`);
  return v;
}

if (mode === 'read-json') {
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  if (lines.length === 0) fail('no JSON object on stdout');
  let r;
  try {
    r = JSON.parse(lines[lines.length - 1]);
  } catch (e) {
    fail(`stdout's last JSON line does not parse: ${e.message}`);
  }
  if (typeof r.value !== 'number') fail(`no numeric value: ${JSON.stringify(r)}`);
  if (r.simulated !== true) fail(`the reading does not say it is simulated ("simulated": ${JSON.stringify(r.simulated)}): ${JSON.stringify(r)}`);
  console.log(`${r.sensor} ${r.value} ${r.unit}, simulated: true`);
} else if (mode === 'cbor-reading') {
  const buf = readFileSync(file);
  if (buf.length === 0) fail('empty payload');
  let m;
  try {
    m = decodeCbor(buf);
  } catch (e) {
    fail(`payload is not one CBOR item (${e.message}): ${buf.toString('hex')}`);
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) fail(`not a CBOR map: ${JSON.stringify(m)}`);
  if (typeof m.sensor !== 'string' || typeof m.value !== 'number') fail(`no sensor and numeric value: ${JSON.stringify(m)}`);
  if (m.sim !== true) fail(`the payload does not mark the value simulated ("sim": ${JSON.stringify(m.sim)}): ${JSON.stringify(m)}`);
  console.log(`CBOR ${buf.length} bytes ${JSON.stringify(m)}`);
} else if (mode === 'elf-machine') {
  const b = readFileSync(file);
  if (b.length < 20 || b.readUInt32BE(0) !== 0x7f454c46) fail('not an ELF file');
  const little = b[5] === 1;
  const machine = little ? b.readUInt16LE(18) : b.readUInt16BE(18);
  const names = { 0x03: 'i386', 0x28: 'arm', 0x3e: 'x86_64', 0xb7: 'aarch64' };
  const cls = b[4] === 2 ? 'ELF64' : 'ELF32';
  console.log(`${cls} ${names[machine] ?? `machine 0x${machine.toString(16)}`}`);
} else {
  console.error('usage: node test/arm64/check-output.mjs read-json|cbor-reading|elf-machine FILE');
  process.exit(2);
}
