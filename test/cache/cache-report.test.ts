/**
 * `summarizeBuilds` over hand-built build logs: per step the builds, hits, misses, hit rate, median miss time and
 * what the misses cost; first causes ranked per step (count, then cost) and over the Dockerfile (cost); one report
 * per Dockerfile and target, the most recently built first, and the filters.
 */
import type { LoggedBuild, LoggedStep } from '../../src/cache/build-log';
import { summarizeBuilds, type DockerfileReport, type StepSummary } from '../../src/cache/cache-report';

const FIRST = 'no earlier build of this step';
const PARENT = 'parent step missed';
const LOCK = '1 file changed: package-lock.json (content)';
const SRC_A = '1 file changed: src/a.js (content)';
const SRC_AB = '2 files changed: src/a.js (content), src/b.js (content)';

let ids = 0;
const at = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

function build(
  minute: number,
  steps: LoggedStep[],
  where: { dockerfile?: string; target?: string } = {},
): LoggedBuild {
  return {
    version: 1,
    id: (++ids).toString(16).padStart(16, '0'),
    finishedAt: at(minute),
    dockerfile: where.dockerfile ?? 'Dockerfile',
    target: where.target ?? '',
    durationMs: steps.reduce((n, s) => n + s.durationMs, 0),
    steps,
  };
}

interface StepOver {
  stage?: string;
  stageIndex?: number;
  instruction?: string;
  line?: number;
}

/** A step of the one-stage Dockerfile below, or of any stage with `over`. */
function step(index: number, durationMs: number, reason?: string, over: StepOver = {}): LoggedStep {
  const stageIndex = over.stageIndex ?? 0;
  return {
    position: `${stageIndex}/${index}`,
    stage: over.stage ?? 'stage-0',
    index,
    line: over.line ?? index,
    instruction: over.instruction ?? INSTRUCTIONS[index - 1] ?? `RUN step ${index}`,
    cache: reason === undefined ? 'hit' : 'miss',
    ...(reason !== undefined ? { reason } : {}),
    durationMs,
  };
}

const INSTRUCTIONS = ['FROM node:22', 'COPY package*.json ./', 'RUN npm ci', 'COPY . .', 'RUN npm run build'];

/**
 * Five builds of one Dockerfile: the first, a no-op, a source edit, a lockfile edit, two source edits. Hits take
 * 1ms (never counted as cost).
 */
function series(): LoggedBuild[] {
  const hit = (i: number): LoggedStep => step(i, 1);
  return [
    build(1, [
      step(1, 100, FIRST),
      step(2, 10, FIRST),
      step(3, 1000, FIRST),
      step(4, 20, FIRST),
      step(5, 500, FIRST),
    ]),
    build(2, [hit(1), hit(2), hit(3), hit(4), hit(5)]),
    build(3, [hit(1), hit(2), hit(3), step(4, 30, SRC_A), step(5, 700, PARENT)]),
    build(4, [hit(1), step(2, 12, LOCK), step(3, 3000, PARENT), step(4, 25, PARENT), step(5, 600, PARENT)]),
    build(5, [hit(1), hit(2), hit(3), step(4, 40, SRC_AB), step(5, 900, PARENT)]),
  ];
}

function only(reports: DockerfileReport[]): DockerfileReport {
  expect(reports).toHaveLength(1);
  return reports[0];
}

function byStep(r: DockerfileReport, id: string): StepSummary {
  const s = r.steps.find((x) => x.step === id);
  if (!s) throw new Error(`no step ${id} in ${r.steps.map((x) => x.step).join(', ')}`);
  return s;
}

describe('summarizeBuilds', () => {
  it('per step: builds, hits, misses, hit rate, miss cost', () => {
    const r = only(summarizeBuilds(series()));
    expect(r.steps.map((s) => [s.step, s.builds, s.hits, s.misses, s.missCostMs])).toEqual([
      ['stage-0/1', 5, 4, 1, 100],
      ['stage-0/2', 5, 3, 2, 22],
      ['stage-0/3', 5, 3, 2, 4000],
      ['stage-0/4', 5, 1, 4, 115],
      ['stage-0/5', 5, 1, 4, 2700],
    ]);
    expect(byStep(r, 'stage-0/1').hitRate).toBeCloseTo(0.8);
    expect(byStep(r, 'stage-0/4').hitRate).toBeCloseTo(0.2);
    expect(byStep(r, 'stage-0/3')).toMatchObject({
      stage: 'stage-0',
      index: 3,
      instruction: 'RUN npm ci',
      line: 3,
    });
  });

  it('the Dockerfile: builds, period, hits and misses over all steps, their cost', () => {
    const r = only(summarizeBuilds(series()));
    expect(r).toMatchObject({
      dockerfile: 'Dockerfile',
      target: '',
      builds: 5,
      from: at(1),
      to: at(5),
      hits: 12,
      misses: 13,
      missCostMs: 100 + 22 + 4000 + 115 + 2700,
    });
    expect(r.hitRate).toBeCloseTo(12 / 25);
  });

  it('the median miss time: the middle one, or the mean of the two middle ones rounded; null without misses', () => {
    const r = only(summarizeBuilds(series()));
    expect(byStep(r, 'stage-0/1').medianMissMs).toBe(100);
    expect(byStep(r, 'stage-0/3').medianMissMs).toBe(2000);
    // 20, 25, 30, 40: (25 + 30) / 2 = 27.5.
    expect(byStep(r, 'stage-0/4').medianMissMs).toBe(28);
    const odd = only(
      summarizeBuilds([
        build(1, [step(1, 900, FIRST)]),
        build(2, [step(1, 5, '--no-cache')]),
        build(3, [step(1, 1)]),
        build(4, [step(1, 70, '--no-cache')]),
      ]),
    );
    expect(odd.steps[0].medianMissMs).toBe(70);
    const never = only(summarizeBuilds([build(1, [step(1, 3)]), build(2, [step(1, 4)])]));
    expect(never.steps[0]).toMatchObject({
      misses: 0,
      hitRate: 1,
      medianMissMs: null,
      missCostMs: 0,
      causes: [],
    });
    expect(never).toMatchObject({ hits: 2, misses: 0, hitRate: 1, missCostMs: 0, causes: [] });
  });

  it("a step's first causes: a parent step missed counts the cause above; ranked by count, then cost", () => {
    const r = only(summarizeBuilds(series()));
    const causes = (id: string): [string, number, number][] =>
      byStep(r, id).causes.map((c) => [c.label, c.count, c.costMs]);
    expect(causes('stage-0/5')).toEqual([
      ['source edits under src/', 2, 1600],
      ['package-lock.json', 1, 600],
      ['the first build', 1, 500],
    ]);
    expect(causes('stage-0/4')).toEqual([
      ['source edits under src/', 2, 70],
      ['package-lock.json', 1, 25],
      ['the first build', 1, 20],
    ]);
    // One each: the costlier first.
    expect(causes('stage-0/3')).toEqual([
      ['package-lock.json', 1, 3000],
      ['the first build', 1, 1000],
    ]);
    expect(byStep(r, 'stage-0/5').causes[0].kind).toBe('files');
  });

  it('the reasons as the logs gave them, counted, most frequent first (ties by text)', () => {
    const r = only(summarizeBuilds(series()));
    expect(byStep(r, 'stage-0/5').reasons).toEqual([
      { reason: PARENT, count: 3 },
      { reason: FIRST, count: 1 },
    ]);
    expect(byStep(r, 'stage-0/4').reasons).toEqual([
      { reason: SRC_A, count: 1 },
      { reason: SRC_AB, count: 1 },
      { reason: FIRST, count: 1 },
      { reason: PARENT, count: 1 },
    ]);
  });

  it('causes over the Dockerfile: by the time they cost, with the steps they hit', () => {
    const r = only(summarizeBuilds(series()));
    expect(r.causes).toEqual([
      {
        kind: 'files',
        label: 'package-lock.json',
        count: 4,
        costMs: 12 + 3000 + 25 + 600,
        steps: ['stage-0/2', 'stage-0/3', 'stage-0/4', 'stage-0/5'],
      },
      // Fewer misses than the first build, but costlier.
      {
        kind: 'files',
        label: 'source edits under src/',
        count: 4,
        costMs: 70 + 1600,
        steps: ['stage-0/4', 'stage-0/5'],
      },
      {
        kind: 'first-build',
        label: 'the first build',
        count: 5,
        costMs: 100 + 10 + 1000 + 20 + 500,
        steps: ['stage-0/1', 'stage-0/2', 'stage-0/3', 'stage-0/4', 'stage-0/5'],
      },
    ]);
    // The same cost: the more frequent first (whatever order the steps met them in).
    const tie = only(
      summarizeBuilds([
        build(1, [step(1, 10, '--no-cache'), step(2, 10, 'build arg V changed 1 → 2')]),
        build(2, [step(1, 30, 'build arg V changed 2 → 3'), step(2, 20, '--no-cache')]),
        build(3, [step(1, 1), step(2, 10, '--no-cache')]),
      ]),
    );
    expect(tie.causes.map((c) => [c.label, c.count, c.costMs])).toEqual([
      ['--no-cache', 3, 40],
      ['build arg V', 2, 40],
    ]);
  });

  it('the latest build names the step, whatever order the builds come in', () => {
    const [b1, b2, b3] = [
      build(1, [step(1, 1), step(2, 50, FIRST, { instruction: 'RUN make', line: 2 })]),
      build(3, [
        step(1, 1),
        step(2, 50, 'instruction changed: `RUN make` → `RUN make all`', {
          instruction: 'RUN make all',
          line: 4,
        }),
      ]),
      build(2, [step(1, 1), step(2, 1, undefined, { instruction: 'RUN make', line: 2 })]),
    ];
    const r = only(summarizeBuilds([b2, b1, b3]));
    expect(byStep(r, 'stage-0/2')).toMatchObject({
      instruction: 'RUN make all',
      line: 4,
      builds: 3,
      hits: 1,
    });
    expect(r.from).toBe(at(1));
    expect(r.to).toBe(at(3));
  });

  it('steps in order of stage (as the latest build ran them) then index, numerically', () => {
    const builder = (i: number, ms: number, reason?: string): LoggedStep =>
      step(i, ms, reason, { stage: 'builder', stageIndex: 0, instruction: `RUN b${i}` });
    const runtime = (i: number, ms: number, reason?: string): LoggedStep =>
      step(i, ms, reason, { stage: 'runtime', stageIndex: 1, instruction: `RUN r${i}` });
    const r = only(
      summarizeBuilds([
        // An older build had the stages the other way round; the latest one's order counts.
        build(1, [
          step(1, 5, FIRST, { stage: 'runtime', stageIndex: 0 }),
          step(1, 5, FIRST, { stage: 'builder', stageIndex: 1 }),
        ]),
        build(2, [runtime(2, 1), runtime(1, 1), builder(10, 1), builder(9, 1), builder(2, 1), builder(1, 1)]),
      ]),
    );
    expect(r.steps.map((s) => s.step)).toEqual([
      'builder/1',
      'builder/2',
      'builder/9',
      'builder/10',
      'runtime/1',
      'runtime/2',
    ]);
    expect(byStep(r, 'builder/1').builds).toBe(2);
  });

  it('one report per Dockerfile and target, the most recently built first', () => {
    const app = { dockerfile: 'build/app.Dockerfile' };
    const test = { target: 'test' };
    const reports = summarizeBuilds([
      build(1, [step(1, 1)]),
      build(2, [step(1, 1)], app),
      build(3, [step(1, 1)], test),
      build(6, [step(1, 1)], app),
      build(4, [step(1, 1)]),
      build(5, [step(1, 1)], test),
    ]);
    expect(reports.map((r) => [r.dockerfile, r.target, r.builds, r.from, r.to])).toEqual([
      ['build/app.Dockerfile', '', 2, at(2), at(6)],
      ['Dockerfile', 'test', 2, at(3), at(5)],
      ['Dockerfile', '', 2, at(1), at(4)],
    ]);
    expect(summarizeBuilds([])).toEqual([]);
  });

  it('filters: since a time (inclusive), a Dockerfile, a target', () => {
    const app = { dockerfile: 'build/app.Dockerfile' };
    const builds = [
      build(1, [step(1, 1)]),
      build(2, [step(1, 1)], app),
      build(3, [step(1, 10, FIRST)], { target: 'test' }),
      build(4, [step(1, 1)]),
      build(5, [step(1, 1)], app),
    ];
    const since = summarizeBuilds(builds, { sinceMs: Date.parse(at(3)) });
    expect(since.map((r) => [r.dockerfile, r.target, r.builds, r.from])).toEqual([
      ['build/app.Dockerfile', '', 1, at(5)],
      ['Dockerfile', '', 1, at(4)],
      ['Dockerfile', 'test', 1, at(3)],
    ]);
    const dockerfile = summarizeBuilds(builds, { dockerfile: 'build/app.Dockerfile' });
    expect(dockerfile.map((r) => [r.dockerfile, r.builds])).toEqual([['build/app.Dockerfile', 2]]);
    const target = summarizeBuilds(builds, { dockerfile: 'Dockerfile', target: '' });
    expect(target.map((r) => [r.dockerfile, r.target, r.builds])).toEqual([['Dockerfile', '', 2]]);
    const tested = only(summarizeBuilds(builds, { target: 'test' }));
    expect(tested).toMatchObject({ target: 'test', builds: 1, misses: 1, missCostMs: 10 });
    expect(summarizeBuilds(builds, { sinceMs: Date.parse(at(6)) })).toEqual([]);
    expect(summarizeBuilds(builds, { dockerfile: 'Nope' })).toEqual([]);
  });
});
