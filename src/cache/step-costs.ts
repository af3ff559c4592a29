/**
 * What a finished build's steps cost in the past, for the markdown report: a cached step's record says how long
 * the step took when it was built (the time its hit saved), and the build before this one says what a missed step
 * took last time.
 *
 * The report names steps by stage and position; the remembered builds (build-history.ts) by stage index and
 * position, with their keys. The two are matched stage by stage in Dockerfile order, and a stage counts only when
 * every instruction agrees, so a history from another build (a concurrent one, another target) yields nothing
 * rather than wrong numbers. A report step that carries its own `key` needs no matching.
 */
import * as path from 'node:path';
import { listBuildHistories, type BuildHistory, type HistoryPair, type HistoryStep } from './build-history';
import { isDigest } from '../store/digest';
import { KeyIndex } from './key-index';

/** The parts of a report step this needs (a structural subset of the build report's steps). */
export interface CostedStep {
  stage: string;
  index: number;
  instruction: string;
  cache: string;
  key?: string;
}

export interface PastCosts {
  /** By `stage/index`: what a cached step took when it was built. */
  built: Map<string, number>;
  /** By `stage/index`: what a missed step took in the build before this one. */
  previous: Map<string, number>;
}

export async function loadStepCosts(
  root: string,
  report: { steps: readonly CostedStep[] },
  dockerfile: string,
  target?: string,
): Promise<PastCosts> {
  const costs: PastCosts = { built: new Map(), previous: new Map() };
  const wanted = path.resolve(dockerfile);
  const candidates = (await listBuildHistories(root)).filter(
    (p) => p.current.dockerfile === wanted && (target === undefined || p.current.target === target),
  );
  let pair: HistoryPair | undefined;
  let matched = new Map<string, HistoryStep>();
  for (const p of candidates) {
    matched = matchSteps(report.steps, p.current);
    if (matched.size > 0) {
      pair = p;
      break;
    }
  }
  const index = new KeyIndex(root);
  const duration = async (key: string | undefined): Promise<number | undefined> =>
    key !== undefined && isDigest(key) ? (await index.get(key))?.durationMs : undefined;
  const previousByPosition = new Map((pair?.previous?.steps ?? []).map((s) => [s.position, s]));
  for (const step of report.steps) {
    if (step.index === 1) continue;
    const id = `${step.stage}/${step.index}`;
    const current = matched.get(id);
    if (step.cache === 'hit') {
      const ms = await duration(step.key ?? current?.key);
      if (ms !== undefined) costs.built.set(id, ms);
    } else if (current) {
      const before = previousByPosition.get(current.position);
      const ms = await duration(before?.key);
      if (ms !== undefined) costs.previous.set(id, ms);
    }
  }
  return costs;
}

/** Report step id → the history step it is, for the stages whose instructions all agree. */
function matchSteps(steps: readonly CostedStep[], history: BuildHistory): Map<string, HistoryStep> {
  // Histories written before FROM lines were remembered start each stage at step 2.
  const withFrom = history.steps.some((s) => s.position.endsWith('/1'));
  const reportStages = groups(
    steps.filter((s) => withFrom || s.index > 1),
    (s) => s.stage,
  );
  const historyStages = groups(
    [...history.steps].sort((a, b) => comparePositions(a.position, b.position)),
    (s) => s.position.split('/')[0] ?? '',
  );
  const out = new Map<string, HistoryStep>();
  if (reportStages.length !== historyStages.length) return out;
  reportStages.forEach((rs, i) => {
    const hs = historyStages[i] as HistoryStep[];
    if (rs.length !== hs.length) return;
    // A FROM is remembered by its base alone (`FROM`), not by the line as the log shows it.
    const agree = rs.every((s, j) => s.index === 1 || instructionOf(hs[j] as HistoryStep) === s.instruction);
    if (agree) rs.forEach((s, j) => out.set(`${s.stage}/${s.index}`, hs[j] as HistoryStep));
  });
  return out;
}

function groups<T>(items: readonly T[], by: (item: T) => string): T[][] {
  const out: T[][] = [];
  let last: string | undefined;
  for (const item of items) {
    const k = by(item);
    if (k !== last || out.length === 0) out.push([]);
    (out[out.length - 1] as T[]).push(item);
    last = k;
  }
  return out;
}

function instructionOf(step: HistoryStep): string | undefined {
  const op = (step.inputs as { op?: { instruction?: unknown } } | null)?.op;
  return typeof op?.instruction === 'string' ? op.instruction : undefined;
}

/** `2/10` after `2/9`: positions compare as numbers, stage first. */
export function comparePositions(a: string, b: string): number {
  const [as, ai] = a.split('/').map(Number);
  const [bs, bi] = b.split('/').map(Number);
  return (as ?? 0) - (bs ?? 0) || (ai ?? 0) - (bi ?? 0);
}
