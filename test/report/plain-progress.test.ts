/**
 * `--progress plain`: a RUN's output as whole lines under a short `[stage i/n] |` prefix, the instruction once above
 * a step's first line, partial lines held until their newline (or the step's end), and the done lines as before.
 */
import type { BuildEvent } from '../../src/events';
import { hit, miss, output, start, step } from '../helpers/build-events';
import { plainProgress } from '../../src/report/plain-progress';
import type { ProgressView } from '../../src/report/progress-view';

/** A plain view writing into a string; `lines()` is what it wrote so far, split at newlines. */
function capture(): { view: ProgressView; text: () => string; lines: () => string[] } {
  let text = '';
  const view = plainProgress({ write: (t) => (text += t), colour: false });
  return {
    view,
    text: () => text,
    lines: () => (text === '' ? [] : text.replace(/\n$/, '').split('\n')),
  };
}

function feed(view: ProgressView, events: readonly BuildEvent[]): void {
  for (const e of events) view.onEvent(e);
}

test('output lines are prefixed with the step tag, the instruction printed once before the first', () => {
  const c = capture();
  const s = step();
  feed(c.view, [
    start(s),
    output(s, 'one\ntwo\n'),
    output(s, 'three\n'),
    miss(s, 1234, 'the command changed'),
  ]);
  expect(c.lines()).toEqual([
    '[2/3] RUN make',
    '[2/3] | one',
    '[2/3] | two',
    '[2/3] | three',
    '[2/3] RUN make  1.23s  (miss: the command changed)',
  ]);
});

test('a step that prints nothing is its done line alone', () => {
  const c = capture();
  const s = step();
  feed(c.view, [start(s), miss(s, 50, 'no earlier build of this step')]);
  expect(c.lines()).toEqual(['[2/3] RUN make  0.05s  (miss: no earlier build of this step)']);
});

test('nothing is printed for a step until its first whole line', () => {
  const c = capture();
  const s = step();
  feed(c.view, [start(s), output(s, 'abc')]);
  expect(c.text()).toBe('');
  feed(c.view, [output(s, 'def\n')]);
  expect(c.lines()).toEqual(['[2/3] RUN make', '[2/3] | abcdef']);
});

test("a partial line is flushed before the step's done line", () => {
  const c = capture();
  const s = step();
  feed(c.view, [start(s), output(s, 'full\nno newline at the end'), miss(s, 2000, 'x')]);
  expect(c.lines()).toEqual([
    '[2/3] RUN make',
    '[2/3] | full',
    '[2/3] | no newline at the end',
    '[2/3] RUN make  2.00s  (miss: x)',
  ]);
});

test("stdout's and stderr's partial lines are kept apart", () => {
  const c = capture();
  const s = step();
  feed(c.view, [
    start(s),
    output(s, 'out-a', 'stdout'),
    output(s, 'err-a', 'stderr'),
    output(s, 'err-b\n', 'stderr'),
    output(s, 'out-b\n', 'stdout'),
  ]);
  expect(c.lines()).toEqual(['[2/3] RUN make', '[2/3] | err-aerr-b', '[2/3] | out-aout-b']);
});

test("two stages interleaving: each line under its own stage's tag, neither's partial line cut by the other", () => {
  const c = capture();
  const a = step({
    stage: 'build',
    showStage: true,
    stageIndex: 0,
    index: 2,
    total: 4,
    instruction: 'RUN make',
  });
  const b = step({
    stage: 'docs',
    showStage: true,
    stageIndex: 1,
    index: 3,
    total: 5,
    instruction: 'RUN mkdocs',
  });
  feed(c.view, [
    start(a),
    start(b),
    output(a, 'compil'),
    output(b, 'render'),
    output(a, 'ing\n'),
    output(b, 'ing\npage 1\n'),
    output(a, 'linking\n'),
    hit(b),
    miss(a, 12_345, 'a file changed'),
  ]);
  expect(c.lines()).toEqual([
    '[build 2/4] RUN make',
    '[build 2/4] | compiling',
    '[docs 3/5] RUN mkdocs',
    '[docs 3/5] | rendering',
    '[docs 3/5] | page 1',
    '[build 2/4] | linking',
    '[docs 3/5] RUN mkdocs  CACHED',
    '[build 2/4] RUN make  12.3s  (miss: a file changed)',
  ]);
});

test('a 3000-char line is printed whole', () => {
  const c = capture();
  const s = step();
  const long = 'L'.repeat(3000);
  feed(c.view, [start(s), output(s, long.slice(0, 1000)), output(s, `${long.slice(1000)}\n`)]);
  expect(c.lines()).toEqual(['[2/3] RUN make', `[2/3] | ${long}`]);
});

test('a \\r-redrawn bar is printed as its last state only', () => {
  const c = capture();
  const s = step();
  feed(c.view, [start(s), output(s, 'get 10%\rget 50%'), output(s, '\rget 100%\r\n'), output(s, 'ok\r\n')]);
  expect(c.lines()).toEqual(['[2/3] RUN make', '[2/3] | get 100%', '[2/3] | ok']);
});

test('end() flushes the unfinished line of a step that never finished', () => {
  const c = capture();
  const s = step();
  const other = step({ stageIndex: 1, index: 3, instruction: 'RUN test' });
  feed(c.view, [
    start(s),
    start(other),
    output(s, 'error: something broke'),
    output(other, 'half'),
    output(other, ' a line', 'stdout'),
  ]);
  expect(c.text()).toBe('');
  c.view.end();
  expect(c.lines()).toEqual([
    '[2/3] RUN make',
    '[2/3] | error: something broke',
    '[3/3] RUN test',
    '[3/3] | half a line',
  ]);
});

test('end() prints nothing again for a step that already finished', () => {
  const c = capture();
  const s = step();
  feed(c.view, [start(s), output(s, 'tail'), miss(s, 10, 'x')]);
  const before = c.text();
  c.view.end();
  expect(c.text()).toBe(before);
});

test('done lines: CACHED for a hit, seconds and the reason for a miss, the tag padded to the total', () => {
  const c = capture();
  const s1 = step({ index: 1, total: 3, instruction: 'FROM alpine' });
  const s2 = step({ index: 2, total: 12, instruction: 'COPY . /app' });
  const s3 = step({ index: 3, total: 3, instruction: 'RUN make' });
  feed(c.view, [hit(s1), miss(s2, 1234, 'a file changed: app.ts'), miss(s3, 0)]);
  expect(c.lines()).toEqual([
    '[1/3] FROM alpine  CACHED',
    '[ 2/12] COPY . /app  1.23s  (miss: a file changed: app.ts)',
    '[3/3] RUN make  0.00s  (miss: unknown)',
  ]);
});

test('the output is plain text: no escape sequences of its own', () => {
  const c = capture();
  const s = step();
  feed(c.view, [start(s), output(s, 'x\n'), hit(s)]);
  expect(c.text()).not.toContain('\x1b');
});

test("a restart: the abandoned attempt's unfinished line is printed before the warning, not joined to the next", () => {
  const c = capture();
  const s = step();
  feed(c.view, [
    start(s),
    output(s, 'attempt one, cut short'),
    { type: 'restart', reason: 'cannot fetch sha256:abc; building again without --cache-from' },
    start(s),
    output(s, 'attempt two\n'),
    miss(s, 10, 'x'),
  ]);
  expect(c.lines()).toEqual([
    '[2/3] RUN make',
    '[2/3] | attempt one, cut short',
    'WARNING: cannot fetch sha256:abc; building again without --cache-from',
    '[2/3] RUN make',
    '[2/3] | attempt two',
    '[2/3] RUN make  0.01s  (miss: x)',
  ]);
});
