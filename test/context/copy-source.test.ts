import * as fs from 'node:fs';
import * as path from 'node:path';
import { expandCopySource, splitWildcards } from '../../src/context/copy-source';
import { BadPatternError } from '../../src/context/glob';
import { ContextTree, type TreeNode } from '../../src/context/tree';
import { walkContext } from '../../src/context/walk';
import { BuildError } from '../../src/errors';
import { tempDir, writeTree } from './support/data';

function tree(spec: Record<string, string>): ContextTree {
  // 'dir/' → directory, '->target' → symlink, anything else → file
  const nodes: TreeNode[] = Object.entries(spec).map(([p, v]) =>
    v === 'dir'
      ? { path: p, type: 'dir' }
      : v.startsWith('->')
        ? { path: p, type: 'symlink', linkTarget: v.slice(2) }
        : { path: p, type: 'file' },
  );
  return new ContextTree(nodes);
}

const t = tree({
  src: 'dir',
  'src/a.ts': 'f',
  'src/b.js': 'f',
  'src/lib': 'dir',
  'src/lib/c.ts': 'f',
  'src/lib/d.ts': 'f',
  'src.ts': 'f',
  'a b.txt': 'f',
  'x*y': 'f',
  'x\\*z': 'f',
  docs: 'dir',
  'docs/one.md': 'f',
  'docs/two.md': 'f',
  link: '->src',
  abs: '->/docs',
  up: '->../../docs',
  loop: '->loop',
  'readme.md': 'f',
  mdlink: '->readme.md',
});

describe('splitWildcards', () => {
  test.each([
    ['*.ts', '', '*.ts'],
    ['src/*.ts', 'src', '*.ts'],
    ['/src/lib/*.ts', '/src/lib', '*.ts'],
    ['./src//x/../*/c.ts', 'src', '*/c.ts'],
    ['src/l?b/*.ts', 'src', 'l?b/*.ts'],
    ['a\\*b/c', 'a\\*b/c', ''],
    ['plain/path', 'plain/path', ''],
  ])('%j → base %j, pattern %j', (source, base, pattern) => {
    expect(splitWildcards(source)).toEqual({ base, pattern });
  });
});

describe('expandCopySource', () => {
  test.each<[string, string[]]>([
    ['src/*.ts', ['src/a.ts']],
    ['*.ts', ['src.ts']],
    ['src/*', ['src/a.ts', 'src/b.js', 'src/lib']], // a matching directory is taken whole
    ['src/*/*.ts', ['src/lib/c.ts', 'src/lib/d.ts']],
    ['*/*.md', ['docs/one.md', 'docs/two.md']],
    ['src*', ['src', 'src.ts']],
    ['docs/[ot]*.md', ['docs/one.md', 'docs/two.md']],
    ['docs/[^o]*', ['docs/two.md']],
    ['docs/[!o]*', ['docs/one.md']], // `!` is a member, not negation
    ['a?b.txt', ['a b.txt']],
    ['x[*]y', ['x*y']],
    ['**/*.ts', ['src/a.ts']], // `**` is a single `*` in filepath.Match
    ['link/*.ts', ['src/a.ts']], // symlinks in the base are followed; results are real paths
    ['abs/*.md', ['docs/one.md', 'docs/two.md']], // absolute targets start at the context root
    ['up/*.md', ['docs/one.md', 'docs/two.md']], // and `..` cannot leave it
    ['/src/*.js', ['src/b.js']],
    ['../src/*.js', ['src/b.js']],
    ['nothing/*.ts', []],
    ['*.none', []],
    ['readme.md/*', []],
  ])('%j → %j', (source, expected) => {
    expect(expandCopySource(source, t)).toEqual(expected);
  });

  test.each<[string, string[]]>([
    ['src/a.ts', ['src/a.ts']],
    ['./src/', ['src']],
    ['.', ['.']],
    ['/', ['.']],
    ['link/a.ts', ['link/a.ts']], // kept as written; COPY resolves it
    ['mdlink', ['mdlink']],
    ['missing', []],
    // An escaped wildcard makes the segment literal, backslash included (fsutil does not unescape it).
    ['x\\*y', []],
    ['x\\*z', ['x\\*z']],
    ['link/missing', []],
  ])('a source without wildcards: %j → %j', (source, expected) => {
    expect(expandCopySource(source, t)).toEqual(expected);
  });

  test('a malformed pattern is a user error', () => {
    expect(() => expandCopySource('src/[a', t)).toThrow(BadPatternError);
  });

  test('a symlink loop is a build error', () => {
    expect(() => expandCopySource('loop/*', t)).toThrow(BuildError);
  });

  test('works on a walked directory', async () => {
    const root = tempDir();
    try {
      writeTree(root, { 'app/main.go': '', 'app/util.go': '', 'app/x_test.go': '', 'go.mod': '' });
      fs.symlinkSync('app', path.join(root, 'cur'));
      const walked = new ContextTree(await walkContext(root, null));
      expect(expandCopySource('app/*.go', walked)).toEqual(['app/main.go', 'app/util.go', 'app/x_test.go']);
      expect(expandCopySource('cur/*_test.go', walked)).toEqual(['app/x_test.go']);
      expect(expandCopySource('go.*', walked)).toEqual(['go.mod']);
      expect(walked.resolve('cur/main.go')).toBe('app/main.go');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('ContextTree.resolve', () => {
  test.each([
    ['link', true, 'src'],
    ['link', false, 'link'],
    ['link/lib/c.ts', false, 'src/lib/c.ts'],
    ['up/one.md', true, 'docs/one.md'],
    ['../../x', true, 'x'],
    ['missing/../src', true, 'src'],
    ['', true, ''],
  ])('%j (follow final: %s) → %j', (p, follow, expected) => {
    expect(t.resolve(p, follow)).toBe(expected);
  });
});
