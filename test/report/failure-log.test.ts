/**
 * The block above a failed build's error: the step, its last lines (all with -q), how many were left out, where
 * the whole log is, and no line of the RUN's own at the start of a line, where GitHub Actions would run it as a
 * workflow command.
 */
import { failureBlock } from '../../src/report/failure-log';
import { step } from '../helpers/build-events';

const output = Array.from({ length: 14 }, (_, i) => `line ${i + 1}`);

test('the last ten lines, the count of the others, and the log key in short', () => {
  const block = failureBlock({ step: step(), output, logKey: `sha256:${'ab'.repeat(32)}` });
  expect(block.split('\n')).toEqual([
    '------',
    ' > [2/3] RUN make:',
    '[4 earlier lines not shown]',
    ...output.slice(4).map((l) => `| ${l}`),
    '------',
    'the whole log: tsbuild logs abababababab',
    '',
  ]);
});

test('with -q every line, and no log line when none was saved', () => {
  const block = failureBlock({ step: step(), output, logKey: undefined }, 'all');
  expect(block).toContain('| line 1\n');
  expect(block).not.toContain('earlier lines');
  expect(block).not.toContain('tsbuild logs');
});

test("a RUN's line that is a workflow command does not start a line of the block", () => {
  const hostile = ['::add-mask::secret', '  ::stop-commands::x', '::error::fake'];
  const block = failureBlock({ step: step(), output: hostile, logKey: undefined }, 'all');
  for (const line of block.split('\n')) expect(line.trimStart().startsWith('::')).toBe(false);
});
