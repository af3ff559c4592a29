/**
 * `tsbuild cache explain`: which steps stopped hitting between two builds, and the first cause of each run of
 * misses rather than the cascade. A step whose own inputs changed (its instruction, a build arg, the files it read,
 * the base image) is a cause; a step that missed only because the step below it (or the stage it copies from)
 * produced a new key is a consequence, listed under its cause.
 *
 * Two sources: the remembered inputs of the last two builds of a Dockerfile (build-history.ts), compared step by
 * step, with the wording of `explainMiss`; or two `--report` JSON files, whose miss reasons were written at build
 * time and are only sorted into causes and consequences here.
 */
import type { BuildHistory, HistoryStep } from '../cache/build-history';
import { explainMiss } from '../cache/explain';
import type { FileInput, StepInputs } from '../cache/step-key';
import type { BuildReport } from './build-report';

export interface ExplainedStep {
  /** `4/6`, or `build 4/6` when there are several stages: as the build log labels the step (FROM is 1). */
  label: string;
  instruction: string;
  line?: number;
  reason: string;
}

export interface MissCause {
  step: ExplainedStep;
  /** Steps that missed only because of this one, in build order. */
  consequences: ExplainedStep[];
}

export interface Explanation {
  /** What was compared, for the heading: `Dockerfile (target app)` or two report file names. */
  subject: string;
  olderAt?: string;
  newerAt?: string;
  /** Steps in the newer build, FROM lines not counted. */
  steps: number;
  missed: number;
  /** Hits the newer build took from a `--cache-from` cache (as it recorded them). */
  imported: number;
  causes: MissCause[];
}

/** What the store knows beyond the two histories; all optional, each makes the answer more precise. */
export interface HistoryContext {
  /** The file listing blob a step's `filesDigest` names, to say which files changed. */
  files?: (digest: string) => Promise<FileInput[] | undefined>;
  /** When the cache record of a key was created: tells a real miss from a key change that hit an older entry. */
  recordCreatedAt?: (key: string) => Promise<string | undefined>;
  /**
   * Stage index → its name, what it stands on for messages (`base image alpine:3.20`, `stage build`, `scratch`) and
   * its FROM line as the log shows it, from planning the Dockerfile again.
   */
  stages?: ReadonlyMap<number, { name: string; base?: string; from?: string }>;
  /** The Dockerfile line of the step at a position (`stage/step`), if that instruction is still there. */
  line?: (position: string, instruction: string) => number | undefined;
}

interface Node {
  step: HistoryStep;
  explained: ExplainedStep;
  missed: boolean;
  /** The cause this step's miss follows from (itself when it is a cause). */
  cause?: MissCause;
}

/** Compare the last two builds of one Dockerfile and target. */
export async function explainHistories(
  older: BuildHistory,
  newer: BuildHistory,
  ctx: HistoryContext = {},
): Promise<Explanation> {
  const ordered = [...newer.steps].sort((a, b) => comparePositions(a.position, b.position));
  const counterpart = matchSteps(older.steps, ordered);
  const olderStages = new Set(older.steps.map((s) => stageOf(s.position)));
  const totals = stageTotals(ordered.map((s) => s.position));
  const byKey = new Map<string, Node>();
  const causes: MissCause[] = [];
  let missed = 0;
  let previousInStage: Node | undefined;

  for (const step of ordered) {
    const [stageIndex = 0, stepIndex = 0] = step.position.split('/').map(Number);
    if (previousInStage && stageOf(previousInStage.step.position) !== stageIndex) previousInStage = undefined;
    const cur = step.inputs;
    const old = counterpart.get(step);
    const oldInputs = old?.inputs;
    const stage = ctx.stages?.get(stageIndex);
    // A FROM is remembered by its base alone; the Dockerfile (when it could be planned) says what it reads.
    const instruction = stepIndex === 1 && stage?.from ? stage.from : (cur.op?.instruction ?? '');
    const explained: ExplainedStep = {
      label: stepLabel(stage?.name ?? `stage-${stageIndex}`, stepIndex, totals, stageIndex),
      instruction,
      line: ctx.line?.(step.position, instruction),
      reason: '',
    };
    const node: Node = { step, explained, missed: false };
    // A stage's first step stands on the same base its FROM is keyed by.
    const prev = previousInStage;
    const parentNode =
      prev &&
      (prev.step.key === cur.parent ||
        prev.step.resultKey === cur.parent ||
        (isFrom(prev.step) && inputsOf(prev.step).parent === cur.parent))
        ? prev
        : byKey.get(cur.parent);
    // Keys repeat (a FROM's key is its base's): the first step to have a key is the one that produced it.
    if (!byKey.has(step.key)) byKey.set(step.key, node);
    // What later steps stand on, when not the step's own key (a COPY --from's content, a COPY --link's merge).
    if (step.resultKey !== undefined && !byKey.has(step.resultKey)) byKey.set(step.resultKey, node);
    previousInStage = node;

    const changed = old === undefined || old.key !== step.key;
    // What the build recorded decides; a history from before that was recorded is inferred from the records.
    node.missed =
      step.cache !== undefined
        ? step.cache === 'miss'
        : await wasMissed(changed, step.key, older.savedAt, ctx);
    if (!node.missed) continue;
    missed++;

    if (!changed) {
      // The same key: the build said why (--no-cache, say), or the record was gone.
      explained.reason =
        step.reason ?? 'inputs unchanged, but the cache record was gone (pruned, or removed by cache check)';
    } else if (oldInputs && sameOwnInputs(oldInputs, cur)) {
      // Only the parent (or the COPY --from stage) differs: a consequence if that step missed in this build.
      const from = typeof cur.op.fromKey === 'string' ? byKey.get(cur.op.fromKey) : undefined;
      const upstream =
        oldInputs.parent !== cur.parent
          ? parentNode
          : oldInputs.op.fromKey !== cur.op.fromKey
            ? from
            : undefined;
      const crossStageFrom =
        upstream && stageOf(upstream.step.position) !== stageIndex && indexOf(upstream.step.position) === 1;
      if (upstream?.missed && upstream.cause && !crossStageFrom) {
        const upstreamStage = stageOf(upstream.step.position);
        explained.reason =
          upstreamStage === stageIndex
            ? 'parent step missed'
            : `stage ${ctx.stages?.get(upstreamStage)?.name ?? `stage-${upstreamStage}`} changed`;
        node.cause = upstream.cause;
        upstream.cause.consequences.push(explained);
        continue;
      }
    } else if (!old && olderStages.has(stageIndex)) {
      explained.reason = 'a new step: the previous build did not have it';
    }
    if (explained.reason === '') {
      explained.reason = explainMiss({
        current: cur,
        currentFiles: cur.filesDigest ? await ctx.files?.(cur.filesDigest) : undefined,
        previous: oldInputs && {
          inputs: oldInputs,
          files: oldInputs.filesDigest ? await ctx.files?.(oldInputs.filesDigest) : undefined,
        },
        parentMissed: false,
        isFirstStep: stepIndex <= 2 && (stepIndex === 1 || !parentNode),
        noCache: false,
        baseLabel: stage?.base,
      });
    }
    node.cause = { step: explained, consequences: [] };
    causes.push(node.cause);
  }
  return {
    subject: `${older.dockerfile} (target ${newer.target})`,
    olderAt: older.savedAt,
    newerAt: newer.savedAt,
    steps: ordered.length,
    missed,
    imported: ordered.filter((st) => st.cache === 'hit' && st.imported === true).length,
    causes,
  };
}

/**
 * Each newer step's counterpart in the older build: the step of the same stage with the same instruction (the
 * nearest unused one, so an inserted line does not make every later step look edited), else the step that was at
 * the same position (an edit in place).
 */
function matchSteps(
  older: readonly HistoryStep[],
  newer: readonly HistoryStep[],
): Map<HistoryStep, HistoryStep> {
  const out = new Map<HistoryStep, HistoryStep>();
  const used = new Set<HistoryStep>();
  for (const n of newer) {
    const stage = stageOf(n.position);
    const index = indexOf(n.position);
    let best: HistoryStep | undefined;
    for (const o of older) {
      if (used.has(o) || stageOf(o.position) !== stage || instructionOf(o) !== instructionOf(n)) continue;
      if (!best || Math.abs(indexOf(o.position) - index) < Math.abs(indexOf(best.position) - index)) best = o;
    }
    if (best) {
      out.set(n, best);
      used.add(best);
    }
  }
  const byPosition = new Map(older.map((o) => [o.position, o]));
  for (const n of newer) {
    const o = byPosition.get(n.position);
    if (!out.has(n) && o && !used.has(o)) {
      out.set(n, o);
      used.add(o);
    }
  }
  return out;
}

function isFrom(step: HistoryStep): boolean {
  return indexOf(step.position) === 1;
}

function inputsOf(step: HistoryStep): StepInputs {
  return step.inputs;
}

function instructionOf(step: HistoryStep): unknown {
  return (step.inputs as { op?: { instruction?: unknown } } | null)?.op?.instruction;
}

function stageOf(position: string): number {
  return Number(position.split('/')[0]);
}

function indexOf(position: string): number {
  return Number(position.split('/')[1]);
}

/** Steps per stage, FROM included (as the build log counts them). */
function stageTotals(positions: readonly string[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of positions) out.set(stageOf(p), Math.max(out.get(stageOf(p)) ?? 0, indexOf(p)));
  return out;
}

/** `3/5` for a one-stage build, `build 3/5` otherwise, as the build log labels steps. */
function stepLabel<K>(stage: string, index: number, totals: ReadonlyMap<K, number>, key: K): string {
  const total = totals.get(key) ?? index;
  return totals.size > 1 ? `${stage} ${index}/${total}` : `${index}/${total}`;
}

/** A changed key is a miss unless its record predates the older build (it hit an older cache entry). */
async function wasMissed(
  changed: boolean,
  key: string,
  olderSavedAt: string | undefined,
  ctx: HistoryContext,
): Promise<boolean> {
  if (!ctx.recordCreatedAt || olderSavedAt === undefined) return changed;
  const created = await ctx.recordCreatedAt(key);
  if (created === undefined) return changed; // pruned since: the key comparison is all there is
  return Date.parse(created) > Date.parse(olderSavedAt);
}

/** Inputs equal apart from what comes from upstream steps: the parent key and the COPY --from stage's key. */
function sameOwnInputs(a: StepInputs, b: StepInputs): boolean {
  const own = (i: StepInputs): string => stable({ ...i, parent: null, op: { ...i.op, fromKey: null } });
  return own(a) === own(b);
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const CASCADE_REASONS = new Set(['parent step missed', 'parent step changed']);

/** Compare two `--report` files: the newer one's misses, sorted into causes and consequences. */
export function explainReports(
  older: BuildReport,
  newer: BuildReport,
  names: [string, string] = ['older', 'newer'],
): Explanation {
  const wasHit = new Set(older.steps.filter((s) => s.cache === 'hit').map((s) => `${s.stage}/${s.index}`));
  const totals = new Map<string, number>();
  for (const s of newer.steps) totals.set(s.stage, Math.max(totals.get(s.stage) ?? 0, s.index));
  const causeOf = new Map<string, MissCause>(); // `stage/index` of a missed step → its cause
  const lastMissOfStage = new Map<string, MissCause>();
  const causes: MissCause[] = [];
  let missed = 0;
  for (const s of newer.steps) {
    if (s.cache !== 'miss') continue;
    missed++;
    const reason = s.reason ?? 'unknown';
    const before =
      older.steps.length === 0 || wasHit.has(`${s.stage}/${s.index}`) ? '' : ' (it missed before too)';
    const explained: ExplainedStep = {
      label: stepLabel(s.stage, s.index, totals, s.stage),
      instruction: s.instruction,
      line: s.line,
      reason: `${reason}${before}`,
    };
    const upstream = upstreamCause(s, reason, causeOf, lastMissOfStage);
    const cause = upstream ?? { step: explained, consequences: [] };
    if (upstream) upstream.consequences.push(explained);
    else causes.push(cause);
    causeOf.set(`${s.stage}/${s.index}`, cause);
    lastMissOfStage.set(s.stage, cause);
  }
  return {
    subject: `${names[1]} compared with ${names[0]}`,
    steps: newer.steps.length,
    missed,
    imported: newer.steps.filter((s) => s.cache === 'hit' && s.imported === true).length,
    causes,
  };
}

/** The cause a report step's miss follows from, judged by the reason the build gave; undefined for a cause. */
function upstreamCause(
  s: BuildReport['steps'][number],
  reason: string,
  causeOf: ReadonlyMap<string, MissCause>,
  lastMissOfStage: ReadonlyMap<string, MissCause>,
): MissCause | undefined {
  const previous = causeOf.get(`${s.stage}/${s.index - 1}`);
  if (CASCADE_REASONS.has(reason) || reason === '--no-cache') return previous;
  // What a stage stands on changed (`base image alpine changed: …`, `stage build changed: …`): the FROM line is
  // the cause and the first step its consequence; a stage built on another stage follows from that stage.
  if (/^(base image .*|stage \S+|scratch) changed/.test(reason) && previous) return previous;
  const base = /^stage (\S+) changed/.exec(reason);
  if (base && s.index <= 2) return lastMissOfStage.get(base[1] as string);
  // COPY --from=stage whose only change is the source stage's result.
  const from = /--from=(\S+)/.exec(s.instruction);
  if (from && /^(the --from source changed: |settings changed: fromKey [^,]*$)/.test(reason)) {
    return lastMissOfStage.get(from[1] as string);
  }
  return undefined;
}

/** The explanation as the terminal shows it. */
export function renderExplanation(e: Explanation): string {
  const out: string[] = [];
  const when =
    e.newerAt && e.olderAt ? ` (the build of ${time(e.newerAt)} against the one of ${time(e.olderAt)})` : '';
  out.push(`${e.subject}${when}`);
  const imported =
    e.imported > 0
      ? `${e.imported} of the hits came from a --cache-from cache, not from this machine's builds`
      : undefined;
  if (e.missed === 0) {
    out.push(`every one of its ${e.steps} steps hit the cache`);
    if (imported) out.push(imported);
    return `${out.join('\n')}\n`;
  }
  if (imported) out.push(imported);
  out.push(
    `${e.missed} of ${e.steps} steps missed; ${e.causes.length === 1 ? 'the first cause' : `${e.causes.length} independent causes`}:`,
  );
  for (const c of e.causes) {
    out.push('', `  ${describe(c.step)}`, `    ${c.step.reason}`);
    if (c.consequences.length > 0) {
      out.push(
        `    then ${c.consequences.length} step${c.consequences.length === 1 ? '' : 's'} missed because of it:`,
      );
      for (const s of c.consequences) out.push(`      ${describe(s)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

function describe(s: ExplainedStep): string {
  return `[${s.label}] ${s.instruction}${s.line !== undefined ? ` (line ${s.line})` : ''}`;
}

function time(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function comparePositions(a: string, b: string): number {
  const [as, ai] = a.split('/').map(Number);
  const [bs, bi] = b.split('/').map(Number);
  return (as ?? 0) - (bs ?? 0) || (ai ?? 0) - (bi ?? 0);
}
