/**
 * The build report as markdown, for a CI job summary (`$GITHUB_STEP_SUMMARY` and the like): the hit rate, the time
 * the cache saved (what the cached steps cost when they were built), the misses slowest first with the reason for
 * each, and every step in a table. Pure: the report plus what the cache knows about past durations in, text out.
 *
 * Everything from the Dockerfile or the file system (instructions, file names, build arg values) is escaped, so a
 * `|` or `*` in an instruction can neither break the table nor turn into formatting.
 */
import { shortDigest } from '../store/digest';
import type { BuildReport } from './build-report';

/** What earlier builds tell about step durations, by `stepId`. */
export interface StepCosts {
  /** What each cached step took when it was built (its cache record's time): the time its hit saved. */
  built: ReadonlyMap<string, number>;
  /** What each step took the last time it was built, for misses: the cost the miss was expected to have. */
  previous: ReadonlyMap<string, number>;
}

/** How a step is named in `StepCosts`: its stage and its 1-based position there. */
export function stepId(step: { stage: string; index: number }): string {
  return `${step.stage}/${step.index}`;
}

const SLOWEST_SHOWN = 10;

export function renderMarkdownReport(report: BuildReport, costs?: StepCosts): string {
  const steps = report.steps;
  // FROM lines count as steps, as in the build log's `4/8 steps cached`: a changed base image is a miss.
  const counted = steps;
  const hits = counted.filter((s) => s.cache === 'hit');
  const misses = counted.filter((s) => s.cache === 'miss');
  const total = steps.reduce((n, s) => n + s.durationMs, 0);
  const saved = sumKnown(hits.map((s) => costs?.built.get(stepId(s))));
  const missTime = misses.reduce((n, s) => n + s.durationMs, 0);
  const missBefore = sumKnown(misses.map((s) => costs?.previous.get(stepId(s))));

  const out: string[] = [];
  const name = report.image.name
    ? code(report.image.name)
    : `image ${code(shortDigest(report.image.configDigest))}`;
  out.push(`## tsbuild: ${name}`, '');
  const rate = counted.length === 0 ? 100 : Math.round((hits.length / counted.length) * 100);
  const head = [
    `**${hits.length} of ${counted.length} steps cached (${rate}%)**`,
    `built in ${duration(report.summary.durationMs || total)}`,
  ];
  if (saved.known > 0) head.push(`the cache saved about ${duration(saved.sum)}`);
  out.push(head.join(' · '), '');

  const notes: string[] = [];
  if (saved.known > 0) {
    const part =
      saved.known < hits.length ? ` (${saved.known} of the ${hits.length} whose cost is known)` : '';
    notes.push(`The cached steps took ${duration(saved.sum)} when they were built${part}.`);
  }
  const imported = hits.filter((s) => s.imported === true).length;
  if (imported > 0) {
    notes.push(
      `${imported} of the cached steps came from a \`--cache-from\` cache, not from this machine's builds.`,
    );
  }
  if (misses.length > 0) {
    const before =
      missBefore.known > 0 ? `; the last time they were built they took ${duration(missBefore.sum)}` : '';
    notes.push(`The ${plural(misses.length, 'miss', 'misses')} took ${duration(missTime)}${before}.`);
  }
  const normalized = report.contextModes?.normalized ?? 0;
  if (normalized > 0) {
    // Said in the summary too, so a cache shared with a machine of another umask is not a mystery.
    const files = `${normalized.toLocaleString('en-US')} ${normalized === 1 ? 'file' : 'files'}`;
    notes.push(
      `Group/other write bits were cleared on ${files} of the build context (umask 0002?); ` +
        '`--context-modes=preserve` keeps them.',
    );
  }
  if (notes.length > 0) out.push(...notes.map((n) => `> ${n}`), '');

  if (misses.length > 0) {
    const slowest = [...misses].sort((a, b) => b.durationMs - a.durationMs).slice(0, SLOWEST_SHOWN);
    out.push('### Misses, slowest first', '');
    out.push('| Step | Time | Last time | Why it missed |', '| --- | ---: | ---: | --- |');
    for (const s of slowest) {
      const last = costs?.previous.get(stepId(s));
      out.push(
        row([
          `${code(s.instruction)} (${text(s.stage)} #${s.index}, line ${s.line})`,
          duration(s.durationMs),
          last === undefined ? '' : duration(last),
          text(s.reason ?? ''),
        ]),
      );
    }
    if (misses.length > slowest.length) out.push('', `…and ${misses.length - slowest.length} faster misses.`);
    out.push('');
  }

  out.push('### Steps', '');
  out.push('| Stage | # | Instruction | Cache | Reason | Time |', '| --- | ---: | --- | --- | --- | ---: |');
  for (const s of steps) {
    const outcome = s.cache === 'hit' ? 'hit' : '**miss**';
    const built = s.cache === 'hit' ? costs?.built.get(stepId(s)) : undefined;
    const reason =
      s.cache === 'hit'
        ? built !== undefined && built > 0
          ? `saved ${duration(built)}`
          : ''
        : (s.reason ?? '');
    out.push(
      row([
        text(s.stage),
        String(s.index),
        code(s.instruction),
        outcome,
        text(reason),
        duration(s.durationMs),
      ]),
    );
  }
  out.push('');
  return out.join('\n');
}

function sumKnown(values: (number | undefined)[]): { sum: number; known: number } {
  const known = values.filter((v): v is number => v !== undefined);
  return { sum: known.reduce((n, v) => n + v, 0), known: known.length };
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** Markdown text that may contain `code spans` (miss reasons quote instructions that way): escape outside them. */
export function text(s: string): string {
  let out = '';
  let rest = s.replace(/\r?\n/g, ' ');
  for (;;) {
    const open = /`+/.exec(rest);
    if (!open) break;
    const fence = open[0];
    const after = rest.slice(open.index + fence.length);
    const close = new RegExp(`(?<!\`)${fence}(?!\`)`).exec(after);
    if (!close) break;
    out += escapeText(rest.slice(0, open.index));
    out += fence + after.slice(0, close.index).replace(/\|/g, '\\|') + fence;
    rest = after.slice(close.index + fence.length);
  }
  return out + escapeText(rest);
}

/** A code span that shows `s` verbatim, whatever backticks it contains, safe inside a table. */
export function code(s: string): string {
  const one = s.replace(/\r?\n/g, ' ');
  const longest = Math.max(0, ...(one.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = one.startsWith('`') || one.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${one.replace(/\|/g, '\\|')}${pad}${fence}`;
}

export function escapeText(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]#|~])/g, '\\$1');
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
