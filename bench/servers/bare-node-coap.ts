/**
 * Scenario (a): a bare node-coap 1.5.0 server answering every request with one constant CBOR
 * payload of a /temp reading's size: the ceiling for a CoAP server on Node.js, with node-coap's
 * own response cache as it comes. Prints "listening <port>" when ready.
 *
 *   node gateway/cli/launch.mjs bench/servers/bare-node-coap.ts <port>
 */
import { createServer } from 'coap';
import { encodeReading } from '../../gateway/coap/reading-formats.ts';
import { ContentFormat } from '../../gateway/coap/content-formats.ts';

const port = Number(process.argv[2] ?? 5683);
// The bytes a real reading has (the gateway's encoder, once, at start): the same response size.
const payload = Buffer.from(encodeReading({ sensor: 'tmp102', quantity: 'temperature', value: 21.5, unit: 'Cel', timeMs: Date.UTC(2026, 10, 27, 12, 0, 0, 40) }, ContentFormat.CBOR));

const server = createServer({ type: 'udp4' }, (req, res) => {
  res.setOption('Content-Format', ContentFormat.CBOR);
  res.end(payload);
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
