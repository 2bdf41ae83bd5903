/**
 * The lines the client prints on stderr about a response: the status line ("2.05 Content")
 * and the options, with Content-Format and Max-Age spelled out.
 */
import { describeFormat, formatNumberOf } from './content-formats.ts';
import type { ClientResponse } from './coap-exchange.ts';
import { statusLine } from './response-codes.ts';

export function contentFormatOf(res: ClientResponse): number | undefined {
  const opt = res.options.find((o) => o.name === 'Content-Format');
  return opt ? formatNumberOf(opt.value) : undefined;
}

export function describeResponse(res: ClientResponse): string[] {
  const lines = [statusLine(res.code)];
  for (const o of res.options) lines.push(`  ${o.name}: ${describeOption(o.name, o.value)}`);
  return lines;
}

function describeOption(name: string, value: unknown): string {
  if (name === 'Content-Format') {
    const n = formatNumberOf(value);
    return n === undefined ? String(value) : describeFormat(n);
  }
  // RFC 7252 section 5.10.5: seconds the response may be cached (60 when absent).
  if (name === 'Max-Age') return `${String(value)} s`;
  if (Buffer.isBuffer(value)) return value.length === 0 ? '(empty)' : `0x${value.toString('hex')}`;
  return String(value);
}
