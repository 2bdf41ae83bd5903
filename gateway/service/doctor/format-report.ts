/**
 * The doctor's report for a person (one line per check, a `fix:` line under each failure or
 * warning, a summary) and for a program (--json: the same results, one JSON document).
 */
import type { CheckResult, CheckStatus } from './check.ts';
import type { DoctorReport } from './run-doctor.ts';

const LABEL: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', skip: 'skip', fail: 'FAIL' };

export function formatReport(report: DoctorReport): string {
  const t = report.target;
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = [`doctor: sensor ${t.sensor}, bus ${t.bus}, address ${t.address}, driver ${t.driver}; CoAP on udp ${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`];
  for (const c of report.checks) {
    const code = c.code ? ` (${c.code})` : '';
    lines.push(`  ${LABEL[c.status].padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}${code}`);
    if (c.fix && (c.status === 'fail' || c.status === 'warn')) lines.push(`  ${' '.repeat(4)}  ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  lines.push(summary(report.checks));
  return lines.join('\n');
}

export function summary(checks: CheckResult[]): string {
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const parts = [`${count('ok')} ok`, `${count('warn')} warning${count('warn') === 1 ? '' : 's'}`, `${count('fail')} failed`, `${count('skip')} skipped`];
  return `${count('fail') === 0 ? 'no check failed' : `${count('fail')} check${count('fail') === 1 ? '' : 's'} failed`}: ${parts.filter((p) => !p.startsWith('0 ')).join(', ')}`;
}

/** --json: `{ ok, target, checks: [{ id, name, status, detail, fix?, code?, errno?, reason?, data? }] }`. */
export function reportJson(report: DoctorReport): string {
  return JSON.stringify(report);
}
