import { UserError } from '../../src/errors';
import { ShellLex } from '../../src/parser/shell/lex';
import { PlanFault, SourceText } from '../../src/planner/fault';

const span = { line: 2, endLine: 3, original: 'RUN a b' };

test('at() turns PlanFaults and expansion errors into located UserErrors', () => {
  const src = new SourceText('Dockerfile', ['FROM x', 'RUN a \\', '  b']);
  expect(() =>
    src.at(span, () => {
      throw new PlanFault('bad');
    }),
  ).toThrow(UserError);
  try {
    src.at(span, () => new ShellLex().processWord('${X:?no}', new Map()));
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).location).toEqual({
      file: 'Dockerfile',
      line: 2,
      endLine: 3,
      text: 'RUN a \\\n  b',
    });
    expect((err as UserError).message).toBe('failed to process "${X:?no}": X: no');
  }
});

test('other errors pass through', () => {
  const src = new SourceText('Dockerfile', undefined);
  expect(() =>
    src.at(span, () => {
      throw new TypeError('bug');
    }),
  ).toThrow(TypeError);
});

test('without lines the instruction text is quoted; a file error has no line', () => {
  const src = new SourceText('x.Dockerfile', undefined);
  expect(src.error('m', span).location?.text).toBe('RUN a b');
  expect(src.fileError('m').format()).toBe('x.Dockerfile: m');
});
