/**
 * The `context-modes` event in every output: one line in the plain and tty logs when modes were normalised (none
 * when nothing changed), the event as is in JSON progress, `contextModes` in the `--report` document and a note
 * in the markdown summary.
 */
import { ReportCollector, type BuildReport } from '../../src/report/build-report';
import { contextModesLine, type BuildEvent } from '../../src/events';
import { jsonProgress } from '../../src/report/json-progress';
import { renderMarkdownReport } from '../../src/report/markdown-report';
import { plainProgress } from '../../src/report/plain-progress';
import { ttyProgress } from '../../src/report/tty-progress';
import type { ProgressOutput, ProgressView } from '../../src/report/progress-view';

const normalized = (n: number): BuildEvent => ({ type: 'context-modes', policy: 'normalize', normalized: n });

function output(view: (out: ProgressOutput) => ProgressView, events: BuildEvent[]): string {
  let text = '';
  const s = view({ write: (t) => (text += t), columns: () => 200, colour: false });
  for (const e of events) s.onEvent(e);
  s.end();
  return text;
}

const IMAGE = {
  name: null,
  manifestDigest: 'sha256:' + '1'.repeat(64),
  configDigest: 'sha256:' + '2'.repeat(64),
};

describe('the context-modes line', () => {
  test('names the count with thousands separators, the likely umask and the opt-out', () => {
    expect(contextModesLine(1204)).toBe(
      'context: cleared group/other write bits on 1,204 files (umask 0002?); --context-modes=preserve keeps them',
    );
    expect(contextModesLine(1)).toContain('on 1 file (umask');
    expect(contextModesLine(0)).toBeNull();
  });

  test('plain and tty print it once when something was cleared, and nothing otherwise', () => {
    const line = contextModesLine(3) as string;
    expect(output(plainProgress, [normalized(3)])).toBe(`${line}\n`);
    expect(output(ttyProgress, [normalized(3)])).toBe(`${line}\n`);
    expect(output(plainProgress, [normalized(0)])).toBe('');
    expect(output(ttyProgress, [normalized(0)])).toBe('');
    const preserved: BuildEvent = { type: 'context-modes', policy: 'preserve', normalized: 0 };
    expect(output(plainProgress, [preserved])).toBe('');
  });

  test('json progress passes the event through', () => {
    expect(JSON.parse(output(jsonProgress, [normalized(5)]))).toEqual({
      type: 'context-modes',
      policy: 'normalize',
      normalized: 5,
    });
  });
});

describe('contextModes in the reports', () => {
  test('the --report document records the policy and the count, when the context was read', () => {
    const read = new ReportCollector();
    read.sink(normalized(42));
    expect(read.build(IMAGE, 10).contextModes).toEqual({ policy: 'normalize', normalized: 42 });

    // A build that never read its context (no COPY from it) says nothing about its modes.
    const unread = new ReportCollector();
    const report = unread.build(IMAGE, 10);
    expect(report).not.toHaveProperty('contextModes');
  });

  const report = (contextModes?: BuildReport['contextModes']): BuildReport => ({
    version: 1,
    image: IMAGE,
    steps: [],
    summary: { steps: 0, hits: 0, misses: 0, durationMs: 0 },
    ...(contextModes ? { contextModes } : {}),
  });

  test('the markdown summary has a note when modes were normalised, and none otherwise', () => {
    const md = renderMarkdownReport(report({ policy: 'normalize', normalized: 1204 }));
    expect(md).toContain(
      '> Group/other write bits were cleared on 1,204 files of the build context (umask 0002?); ' +
        '`--context-modes=preserve` keeps them.',
    );
    for (const r of [
      report({ policy: 'normalize', normalized: 0 }),
      report({ policy: 'preserve', normalized: 0 }),
      report(),
    ]) {
      expect(renderMarkdownReport(r)).not.toContain('write bits');
    }
  });
});
