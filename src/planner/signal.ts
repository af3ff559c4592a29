/**
 * STOPSIGNAL values as moby/sys/signal parses them on Linux: a nonzero number, or a signal name with or without
 * `SIG`, in any case. The value is stored as written; this only rejects what BuildKit rejects.
 */
import { PlanFault } from './fault';
import { goAtoi } from './go';

const NAMES = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
  'RTMIN',
  'RTMAX',
  ...Array.from({ length: 15 }, (_, i) => `RTMIN+${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `RTMAX-${14 - i}`),
]);

export function validateSignal(raw: string): void {
  const n = goAtoi(raw);
  if (n !== undefined) {
    if (n === 0) throw new PlanFault(`invalid signal: ${raw}`);
    return;
  }
  const upper = raw.toUpperCase();
  const name = upper.startsWith('SIG') ? upper.slice(3) : upper;
  if (!NAMES.has(name)) throw new PlanFault(`invalid signal: ${raw}`);
}
