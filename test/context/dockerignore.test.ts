import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../src/errors';
import {
  loadIgnorePatterns,
  matcherFromIgnoreFile,
  parseDockerignore,
  readDockerignore,
} from '../../src/context/dockerignore';
import { PatternMatcher } from '../../src/context/pattern-matcher';
import { readData, tempDir, writeTree } from './support/data';

interface ReadAllData {
  readAll: { source: string; input: string | null; expected: string[] }[];
  newPatternMatcher: {
    source: string;
    patterns: string[];
    expect_pattern_count?: number;
    expect_exclusions?: boolean;
    expect_error?: string;
  }[];
}

const data = readData<ReadAllData>('readall-cases.json');

describe('ignorefile.ReadAll (readall-cases.json)', () => {
  test.each(data.readAll.map((c, i) => [`#${i} ${c.source}`, c] as const))('%s', (_t, c) => {
    // Go's nil reader has no TypeScript counterpart; the nearest is an empty file.
    expect(readDockerignore(c.input ?? '', '.dockerignore')).toEqual(c.expected);
  });
});

describe('New() cleaning facts (readall-cases.json)', () => {
  test.each(data.newPatternMatcher.map((c) => [c.source, c] as const))('%s', (_t, c) => {
    if (c.expect_error !== undefined) {
      expect(() => PatternMatcher.create(c.patterns)).toThrow(c.expect_error);
      return;
    }
    const m = PatternMatcher.create(c.patterns);
    if (c.expect_pattern_count !== undefined) expect(m.patterns).toHaveLength(c.expect_pattern_count);
    if (c.expect_exclusions !== undefined) expect(m.exclusions()).toBe(c.expect_exclusions);
  });
});

describe('parseDockerignore', () => {
  test('keeps line numbers, handles CRLF, BOM, and bytes input', () => {
    const text = '\uFEFF# c\r\nfoo\r\n\r\n  \n!bar/\r\nbaz';
    expect(parseDockerignore(text, 'x')).toEqual([
      { pattern: 'foo', line: 2 },
      { pattern: '!bar', line: 5 },
      { pattern: 'baz', line: 6 },
    ]);
    expect(readDockerignore(Buffer.from(text, 'utf8'), 'x')).toEqual(['foo', '!bar', 'baz']);
  });

  test('a BOM counts only on the first line; # only as the first character', () => {
    expect(readDockerignore('a\n\uFEFFb\nfoo # not a comment\n #x', 'x')).toEqual([
      'a',
      '\uFEFFb',
      'foo # not a comment',
      '#x',
    ]);
  });

  test('uses Go whitespace rules (U+0085 is space, U+FEFF is not)', () => {
    expect(readDockerignore('\u0085a\u00a0\n\u3000', 'x')).toEqual(['a']);
  });

  test('a line of 64 KiB or more is an error, as with bufio.Scanner', () => {
    expect(readDockerignore('a'.repeat(65535) + '\n', 'x')).toHaveLength(1);
    expect(() => readDockerignore('ok\n' + 'a'.repeat(65536), '.dockerignore')).toThrow(
      expect.objectContaining({ location: { file: '.dockerignore', line: 2 } }),
    );
  });
});

describe('loadIgnorePatterns', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('no file: no patterns', async () => {
    expect(await loadIgnorePatterns(dir, path.join(dir, 'Dockerfile'))).toEqual({
      file: null,
      patterns: [],
      lines: [],
    });
  });

  test('the context root .dockerignore', async () => {
    writeTree(dir, { '.dockerignore': '# c\nnode_modules\n/dist/\n', 'sub/.dockerignore': 'ignored' });
    expect(await loadIgnorePatterns(dir, path.join(dir, 'Dockerfile'))).toEqual({
      file: path.join(dir, '.dockerignore'),
      patterns: ['node_modules', 'dist'],
      lines: [2, 3],
    });
  });

  test('<Dockerfile>.dockerignore next to the Dockerfile replaces the root file', async () => {
    writeTree(dir, {
      '.dockerignore': 'root',
      'build/app.Dockerfile': 'FROM scratch',
      'build/app.Dockerfile.dockerignore': 'specific',
    });
    const got = await loadIgnorePatterns(dir, path.join(dir, 'build/app.Dockerfile'));
    expect(got.file).toBe(path.join(dir, 'build/app.Dockerfile.dockerignore'));
    expect(got.patterns).toEqual(['specific']);
    // Another Dockerfile without its own file falls back to the root one.
    expect((await loadIgnorePatterns(dir, path.join(dir, 'Dockerfile'))).patterns).toEqual(['root']);
    expect((await loadIgnorePatterns(dir, null)).patterns).toEqual(['root']);
  });

  test('bad patterns are user errors naming the file and line', async () => {
    writeTree(dir, { '.dockerignore': 'ok\n\n# c\nsrc/[\n' });
    const ignore = await loadIgnorePatterns(dir, null);
    let err: unknown;
    try {
      matcherFromIgnoreFile(ignore);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).format()).toBe(
      `${path.join(dir, '.dockerignore')}:4: syntax error in pattern: "src/["`,
    );
  });

  test('an unreadable ignore file is a user error', async () => {
    fs.mkdirSync(path.join(dir, '.dockerignore'));
    await expect(loadIgnorePatterns(dir, null)).rejects.toThrow(UserError);
  });
});
