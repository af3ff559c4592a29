/**
 * The `# check=` directive as BuildKit reads it (linter.ParseLintOptions, parser.ParseDirective): the options, the
 * errors word for word, where the directive is found, and the build arg that replaces it.
 */
import { UserError } from '../../src/errors';
import { CheckOptionsError, checkSkipped, parseCheckOptions, readCheckOptions } from '../../src/parser';

describe('parseCheckOptions', () => {
  test.each([
    ['', { skip: [], skipAll: false, error: false }],
    ['  ', { skip: [], skipAll: false, error: false }],
    ['skip=all', { skip: [], skipAll: true, error: false }],
    ['skip= A , B ', { skip: ['A', 'B'], skipAll: false, error: false }],
    ['skip=A;error=true', { skip: ['A'], skipAll: false, error: true }],
    ['error=1 ; skip=all', { skip: [], skipAll: true, error: true }],
    ['error=False', { skip: [], skipAll: false, error: false }],
    ['error=T', { skip: [], skipAll: false, error: true }],
    // `all` only alone: in a list it is a rule name like any other.
    ['skip=all,A', { skip: ['all', 'A'], skipAll: false, error: false }],
  ])('%j', (value, expected) => {
    expect(parseCheckOptions(value)).toEqual(expected);
  });

  test.each([
    ['skip', 'invalid check option "skip"'],
    ['foo=bar', 'invalid check option "foo"'],
    [
      'error=yes',
      'failed to parse check option "error=yes": strconv.ParseBool: parsing "yes": invalid syntax',
    ],
    // strings.SplitN(…, ";", 2): a third option stays in the second part's value.
    [
      'skip=A;error=true;skip=B',
      'failed to parse check option "error=true;skip=B": strconv.ParseBool: parsing "true;skip=B": invalid syntax',
    ],
  ])('%j is refused: %s', (value, message) => {
    expect(() => parseCheckOptions(value)).toThrow(new CheckOptionsError(message));
  });

  test('checkSkipped', () => {
    expect(checkSkipped(parseCheckOptions('skip=A,B'), 'B')).toBe(true);
    expect(checkSkipped(parseCheckOptions('skip=A,B'), 'C')).toBe(false);
    expect(checkSkipped(parseCheckOptions('skip=all'), 'C')).toBe(true);
  });
});

describe('readCheckOptions', () => {
  const read = (text: string, args: Record<string, string> = {}): ReturnType<typeof readCheckOptions> =>
    readCheckOptions(Buffer.from(text), 'Dockerfile', new Map(Object.entries(args)));

  test('the directive at the top, after other directives, a BOM or a #! line', () => {
    expect(read('# check=skip=A\nFROM x\n').skip).toEqual(['A']);
    expect(read('# syntax=docker/dockerfile:1\n#check = error=true\nFROM x\n').error).toBe(true);
    expect(read('\ufeff# check=skip=all\nFROM x\n').skipAll).toBe(true);
    expect(read('#!/usr/bin/env dockerfile\n# check=skip=all\nFROM x\n').skipAll).toBe(true);
  });

  test('not below the directive section, and not as a // comment', () => {
    expect(read('FROM x\n# check=skip=all\n').skipAll).toBe(false);
    expect(read('# a comment\n# check=skip=all\nFROM x\n').skipAll).toBe(false);
    expect(read('// check=skip=all\nFROM x\n').skipAll).toBe(false);
  });

  test('BUILDKIT_DOCKERFILE_CHECK replaces the directive', () => {
    const options = read('# check=skip=all\nFROM x\n', { BUILDKIT_DOCKERFILE_CHECK: 'skip=A' });
    expect(options).toEqual({ skip: ['A'], skipAll: false, error: false });
  });

  test('a bad value is a UserError at the directive line, or naming the build arg', () => {
    const error = (): UserError => {
      try {
        read('# syntax=x\n# check=nope\nFROM x\n');
      } catch (e) {
        if (e instanceof UserError) return e;
        throw e;
      }
      throw new Error('expected a UserError');
    };
    expect(error().format()).toBe('Dockerfile:2: failed to parse check options: invalid check option "nope"');
    expect(() => read('FROM x\n', { BUILDKIT_DOCKERFILE_CHECK: 'x' })).toThrow(
      new UserError('failed to parse build-arg:BUILDKIT_DOCKERFILE_CHECK: invalid check option "x"'),
    );
  });
});
