/**
 * `tsbuild cache report` as text for a terminal, markdown for a CI job summary or a pull-request comment, or JSON:
 * per Dockerfile the hit rate and what misses cost, the steps that missed with their first causes ranked, and the
 * advice (`tsbuild check`) that would have saved them.
 */
import type { CauseCount, DockerfileReport, StepSummary } from '../cache/cache-report';
import { formatDuration } from '../cache/units';
import { code, escapeText } from './markdown-report';

/** A `tsbuild check` finding, with the misses the history shows on its step. */
export interface AdviceLine {
  rule: string;
  line: number;
  message: string;
  /** Misses of the step it is about, in the builds the report covers. */
  misses: number;
  missCostMs: number;
}

/** How many causes the markdown form names: a summary, not the whole list. */
const TOP_CAUSES = 3;

export function renderCacheReportText(
  reports: readonly DockerfileReport[],
  advice: ReadonlyMap<string, readonly AdviceLine[]> = new Map(),
): string {
  if (reports.length === 0) return 'no builds in the period: nothing to report\n';
  const out: string[] = [];
  for (const r of reports) {
    const stepName = stepNamer(r);
    out.push(
      `${title(r)}: ${plural(r.builds, 'build', 'builds')}, ${day(r.from)} → ${day(r.to)}`,
      `  hit rate ${pct(r.hitRate)} (${r.hits} of ${r.hits + r.misses} steps); misses took ${formatDuration(r.missCostMs)}`,
      '',
    );
    const missed = r.steps.filter((s) => s.misses > 0).sort((a, b) => b.missCostMs - a.missCostMs);
    if (missed.length === 0) out.push('  every step hit in every build', '');
    for (const s of missed) {
      out.push(
        `  ${stepName(s)} ${s.instruction} (line ${s.line}): ${s.misses} of ${s.builds} builds missed, ` +
          `${formatDuration(s.missCostMs)} (median ${formatDuration(s.medianMissMs ?? 0)})`,
        `      ${s.causes.map((c) => `${c.count} from ${c.label}`).join(', ')}`,
      );
    }
    if (missed.length > 0) out.push('');
    if (r.causes.length > 0) {
      out.push('  first causes, by the time they cost:');
      r.causes.forEach((c, i) =>
        out.push(
          `    ${i + 1}. ${c.label}: ${plural(c.count, 'miss', 'misses')}, ${formatDuration(c.costMs)}`,
        ),
      );
      out.push('');
    }
    const tips = advice.get(groupId(r)) ?? [];
    if (tips.length > 0) {
      out.push('  advice (tsbuild check):');
      for (const a of tips) out.push(`    ${r.dockerfile}:${a.line}: ${a.rule}: ${a.message}${costNote(a)}`);
      out.push('');
    }
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

export function renderCacheReportMarkdown(
  reports: readonly DockerfileReport[],
  advice: ReadonlyMap<string, readonly AdviceLine[]> = new Map(),
): string {
  if (reports.length === 0) return '### tsbuild cache report\n\nNo builds in the period.\n';
  const out: string[] = [];
  for (const r of reports) {
    const stepName = stepNamer(r);
    out.push(
      `### tsbuild cache report: ${code(r.dockerfile)}${r.target ? ` (target ${code(r.target)})` : ''}`,
      '',
      `**${pct(r.hitRate)}** of steps hit over ${plural(r.builds, 'build', 'builds')} (${day(r.from)} → ${day(r.to)}); ` +
        `misses took **${formatDuration(r.missCostMs)}**.`,
      '',
    );
    const missed = r.steps.filter((s) => s.misses > 0).sort((a, b) => b.missCostMs - a.missCostMs);
    if (missed.length > 0) {
      out.push(
        '| step | builds | hit rate | median miss | time lost | first causes |',
        '|---|--:|--:|--:|--:|---|',
      );
      for (const s of missed) {
        out.push(
          `| ${code(`${stepName(s)} ${s.instruction}`)} | ${s.builds} | ${pct(s.hitRate)} | ` +
            `${formatDuration(s.medianMissMs ?? 0)} | ${formatDuration(s.missCostMs)} | ` +
            `${s.causes.map((c) => `${c.count}× ${escapeText(c.label)}`).join(', ')} |`,
        );
      }
      out.push('');
    }
    const top = r.causes.slice(0, TOP_CAUSES);
    if (top.length > 0) {
      out.push('**Top causes**', '');
      top.forEach((c, i) => out.push(`${i + 1}. ${escapeText(c.label)}: ${causeLine(c, r, code)}`));
      out.push('');
    }
    const tips = advice.get(groupId(r)) ?? [];
    if (tips.length > 0) {
      out.push('**Advice**', '');
      for (const a of tips) {
        out.push(`- line ${a.line}, ${code(a.rule)}: ${escapeText(a.message)}${escapeText(costNote(a))}`);
      }
      out.push('');
    }
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

export function renderCacheReportJson(
  reports: readonly DockerfileReport[],
  advice: ReadonlyMap<string, readonly AdviceLine[]> = new Map(),
): string {
  const doc = reports.map((r) => ({ ...r, advice: advice.get(groupId(r)) ?? [] }));
  return `${JSON.stringify({ version: 1, reports: doc }, null, 2)}\n`;
}

/** How advice is matched to a report: its Dockerfile and target. */
export function groupId(r: { dockerfile: string; target: string }): string {
  return `${r.dockerfile}\0${r.target}`;
}

function causeLine(
  c: CauseCount & { steps: string[] },
  r: DockerfileReport,
  show: (name: string) => string = (name) => name,
): string {
  const stepName = stepNamer(r);
  const named = c.steps.map((id) => {
    const s = r.steps.find((x) => x.step === id);
    return show(s ? stepName(s) : id);
  });
  return `${plural(c.count, 'miss', 'misses')}, ${formatDuration(c.costMs)} (${named.join(' ')})`;
}

function costNote(a: AdviceLine): string {
  return a.misses > 0
    ? ` (the history shows ${plural(a.misses, 'miss', 'misses')} there, ${formatDuration(a.missCostMs)})`
    : '';
}

function title(r: DockerfileReport): string {
  return r.target ? `${r.dockerfile} (target ${r.target})` : r.dockerfile;
}

/** `[4]`, or `[builder 4]` when the Dockerfile has more than one stage (as the build log names stages). */
function stepNamer(r: DockerfileReport): (s: Pick<StepSummary, 'stage' | 'index'>) => string {
  const multi = new Set(r.steps.map((s) => s.stage)).size > 1;
  return (s) => (multi ? `[${s.stage} ${s.index}]` : `[${s.index}]`);
}

function pct(rate: number): string {
  return `${Math.round(rate * 100)}%`;
}

function day(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
