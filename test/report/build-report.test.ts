/**
 * A build that starts over (an imported cache could not deliver a blob): the `--report` document keeps only the
 * last attempt's steps, and the logs say why it started over.
 */
import { ReportCollector } from '../../src/report/build-report';
import type { BuildEvent, StepRef } from '../../src/events';
import { plainProgress } from '../../src/report/plain-progress';
import { ttyProgress } from '../../src/report/tty-progress';

const step = (index: number): StepRef => ({
  stage: 'stage-0',
  showStage: false,
  stageIndex: 0,
  index,
  total: 2,
  line: index,
  instruction: index === 1 ? 'FROM scratch' : 'COPY a /a',
});

const done = (index: number, cache: 'hit' | 'miss'): BuildEvent => ({
  type: 'step-done',
  step: step(index),
  cache,
  ...(cache === 'miss' ? { reason: 'no earlier build of this step' } : {}),
  durationMs: 5,
  layer: null,
});

const restart: Extract<BuildEvent, { type: 'restart' }> = {
  type: 'restart',
  reason: 'cannot fetch sha256:abc; building again without --cache-from',
};

const IMAGE = {
  name: null,
  manifestDigest: 'sha256:' + '1'.repeat(64),
  configDigest: 'sha256:' + '2'.repeat(64),
};

test('the report holds each step once, as the attempt after the restart saw it', () => {
  const collector = new ReportCollector();
  for (const e of [done(1, 'hit'), done(2, 'hit'), restart, done(1, 'hit'), done(2, 'miss')])
    collector.sink(e);
  const report = collector.build(IMAGE, 10);
  expect(report.steps.map((s) => [s.index, s.cache])).toEqual([
    [1, 'hit'],
    [2, 'miss'],
  ]);
  expect(report.summary).toMatchObject({ steps: 2, hits: 1, misses: 1 });
});

test('plain and tty logs print the reason as a warning', () => {
  for (const view of [plainProgress, ttyProgress]) {
    let text = '';
    const s = view({ write: (t) => (text += t), colour: false });
    s.onEvent({ type: 'step-start', step: step(2) });
    s.onEvent(restart);
    s.end();
    expect(text).toContain(`WARNING: ${restart.reason}\n`);
  }
});
