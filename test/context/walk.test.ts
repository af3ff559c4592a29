import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { PatternMatcher } from '../../src/context/pattern-matcher';
import { walkContext, walkContextScoped } from '../../src/context/walk';
import { UserError } from '../../src/errors';
import { caseTitle, readData, tempDir, writeTree, type DivergenceCase, type MatchCase } from './support/data';

async function walkPaths(root: string, patterns: string[] | null): Promise<string[]> {
  const entries = await walkContext(root, patterns ? PatternMatcher.create(patterns) : null);
  return entries.map((e) => e.path);
}

/** Cases whose path can be created as a file in a fresh directory (relative, no trailing slash). */
function onDisk(c: { path: string }): boolean {
  return c.path !== '.' && !c.path.startsWith('/') && !c.path.endsWith('/') && c.path !== '';
}

const conformance: { title: string; patterns: string[]; path: string; excluded: boolean }[] = [
  ...readData<MatchCase[]>('cases.json')
    .filter((c) => !c.error && onDisk(c))
    .map((c, i) => ({
      title: `cases.json ${caseTitle(c, i)}`,
      patterns: c.patterns,
      path: c.path,
      excluded: c.match,
    })),
  ...readData<MatchCase[]>('derived-cases.json')
    .filter((c) => c.api.includes('MatchesUsingParentResults') && onDisk(c))
    .map((c, i) => ({
      title: `derived ${caseTitle(c, i)}`,
      patterns: c.patterns,
      path: c.path,
      excluded: c.match,
    })),
  ...readData<{ cases: DivergenceCase[] }>('walk-divergence-cases.json').cases.map((c, i) => ({
    title: `divergence ${caseTitle(c, i)}`,
    patterns: c.patterns,
    path: c.path,
    excluded: c.match,
  })),
];

describe('walking real directories gives the conformance answers', () => {
  let root: string;
  beforeEach(() => {
    root = tempDir();
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test.each(conformance.map((c) => [c.title, c] as const))('%s', async (_t, c) => {
    writeTree(root, { [c.path]: 'x' });
    const paths = await walkPaths(root, c.patterns);
    expect(paths.includes(c.path)).toBe(!c.excluded);
    // And the single-path entry point agrees with the walk.
    expect(PatternMatcher.create(c.patterns).matches(c.path)).toBe(c.excluded);
  });
});

describe('walkContext', () => {
  let root: string;
  beforeEach(() => {
    root = tempDir();
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('lists files, directories and symlinks in walk order, without following links', async () => {
    writeTree(root, { 'a.txt': '', 'a/x': '', 'b/c/d': '', é: '', z: '' });
    fs.mkdirSync(path.join(root, 'empty'));
    fs.symlinkSync('b/c', path.join(root, 'link'));
    fs.symlinkSync('/nonexistent', path.join(root, 'dangling'));
    const entries = await walkContext(root, null);
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['a', 'dir'],
      ['a/x', 'file'],
      ['a.txt', 'file'],
      ['b', 'dir'],
      ['b/c', 'dir'],
      ['b/c/d', 'file'],
      ['dangling', 'symlink'],
      ['empty', 'dir'],
      ['link', 'symlink'],
      ['z', 'file'],
      ['é', 'file'],
    ]);
    expect(entries.find((e) => e.path === 'link')?.linkTarget).toBe('b/c');
    // Each entry carries its lstat, reduced: exact stat key for files (digest cache), whole-second mtime.
    const a = fs.lstatSync(path.join(root, 'a.txt'), { bigint: true });
    const file = entries.find((e) => e.path === 'a.txt');
    expect(file?.stat).toEqual({
      mode: Number(a.mode & 0o7777n),
      uid: Number(a.uid),
      gid: Number(a.gid),
      size: 0,
      rdev: Number(a.rdev),
      mtime: Number(a.mtimeNs / 1_000_000_000n),
      nlink: 1,
      key: `0:${a.mtimeNs}:${a.ctimeNs}:${a.ino}:${a.dev}`,
    });
    expect(entries.find((e) => e.path === 'a')?.stat.key).toBe('');
  });

  test('orders names by code point, as Go does (not by UTF-16 unit)', async () => {
    writeTree(root, { '\u{1F600}': '', '\uFF01': '', b: '' });
    expect(await walkPaths(root, null)).toEqual(['b', '\uFF01', '\u{1F600}']);
  });

  test('an excluded directory is listed when something inside is re-included, and only that', async () => {
    writeTree(root, { 'docs/README.md': '', 'docs/other.md': '', 'docs/deep/x': '', keep: '' });
    expect(await walkPaths(root, ['docs', '!docs/README.md'])).toEqual(['docs', 'docs/README.md', 'keep']);
    expect(await walkPaths(root, ['docs', '!docs/deep/x'])).toEqual([
      'docs',
      'docs/deep',
      'docs/deep/x',
      'keep',
    ]);
    expect(await walkPaths(root, ['docs', '!docs/nothing'])).toEqual(['keep']);
  });

  test('a re-included empty directory brings its excluded parents', async () => {
    fs.mkdirSync(path.join(root, 'a/b/c'), { recursive: true });
    expect(await walkPaths(root, ['a', '!a/b/c'])).toEqual(['a', 'a/b', 'a/b/c']);
  });

  test('`dir/**` excludes the contents but sends the directory itself', async () => {
    writeTree(root, { 'dir/a': '', 'dir/sub/b': '' });
    expect(await walkPaths(root, ['dir/**'])).toEqual(['dir']);
  });

  test('excluded directories are not read when no exception could reach inside them', async () => {
    writeTree(root, { 'node_modules/x/y': '', 'src/a': '', 'src/gen/b': '' });
    const spy = jest.spyOn(jest.requireActual<typeof fs>('node:fs'), 'readdirSync');
    try {
      await walkPaths(root, ['node_modules', 'src/gen', '!src/gen/keep']);
      const read = spy.mock.calls.map((c) => path.relative(root, String(c[0])));
      expect(read).toContain('src/gen'); // an exception names something inside it
      expect(read).not.toContain('node_modules');
      spy.mockClear();
      await walkPaths(root, ['node_modules', '!*.keep']);
      // A wildcard exception could match anywhere: nothing may be pruned.
      expect(spy.mock.calls.map((c) => path.relative(root, String(c[0])))).toContain('node_modules');
    } finally {
      spy.mockRestore();
    }
  });

  test('the Dockerfile and .dockerignore are left out when the patterns match them', async () => {
    writeTree(root, { Dockerfile: 'FROM scratch', '.dockerignore': 'Dockerfile\n.dockerignore', app: '' });
    expect(await walkPaths(root, ['Dockerfile', '.dockerignore'])).toEqual(['app']);
    expect(await walkPaths(root, [])).toEqual(['.dockerignore', 'Dockerfile', 'app']);
  });

  test('sockets are not part of a context', async () => {
    writeTree(root, { f: '' });
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(root, 'sock'), resolve));
    try {
      expect(await walkPaths(root, null)).toEqual(['f']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('a file name that is not UTF-8 is a build error, not a silently missing file', async () => {
    writeTree(root, { 'ok/f': '', 'bad/f': '' });
    fs.writeFileSync(
      Buffer.concat([Buffer.from(path.join(root, 'bad') + '/'), Buffer.from([0x66, 0xff])]),
      '',
    );
    await expect(walkContext(root, null)).rejects.toThrow(/bad.*not valid UTF-8/);
    // A pruned directory is never read, so ignoring it is a way out.
    expect(await walkPaths(root, ['bad'])).toEqual(['ok', 'ok/f']);
  });

  test('the context root may be reached through a symlink', async () => {
    writeTree(root, { 'real/f': '' });
    fs.symlinkSync('real', path.join(root, 'ctx'));
    expect(await walkPaths(path.join(root, 'ctx'), null)).toEqual(['f']);
  });

  test('a missing or non-directory context is a user error', async () => {
    writeTree(root, { f: '' });
    await expect(walkContext(path.join(root, 'missing'), null)).rejects.toThrow(UserError);
    await expect(walkContext(path.join(root, 'f'), null)).rejects.toThrow(UserError);
  });

  test('a pattern that is bad only when matched fails the walk with a user error', async () => {
    writeTree(root, { f: '' });
    const m = PatternMatcher.create(['[Local-Only]/'], { file: '.dockerignore', lines: [1] });
    await expect(walkContext(root, m)).rejects.toThrow(/\.dockerignore|syntax error/);
    await expect(walkContext(root, m)).rejects.toBeInstanceOf(UserError);
  });
});

describe('walkContextScoped: only what copying some paths can reach, as the whole walk lists it', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('walk-scoped');
    await writeTree(dir, {
      'usr/lib/x.so': 'x',
      'usr/bin/tool': 't',
      'app/a.txt': 'a',
      'app/b.txt': 'b',
      'app/sub/deep.txt': 'd',
      'data/c.txt': 'c',
      'data/sub/d': 'd',
      'other/big/1': '1',
      'other/big/2': '2',
    });
    const links: Record<string, string> = {
      lib: 'usr/lib', // merged /usr, relative
      bin: '/usr/bin', // absolute: resolved from the directory, not the host's /
      'app/link.txt': '../data/c.txt',
      l1: 'l2',
      l2: 'app',
      escape: '../../../../data', // climbs past the root: stops there
      loop: 'loop',
    };
    for (const [name, target] of Object.entries(links)) fs.symlinkSync(target, path.join(dir, name));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string, string[], string[]]> = [
    // [path, must be listed, must not be listed]
    ['lib/x.so', ['lib', 'usr', 'usr/lib', 'usr/lib/x.so'], ['usr/bin', 'app', 'other']],
    ['/bin/tool', ['bin', 'usr/bin/tool'], ['usr/lib', 'other']],
    ['app/*.txt', ['app/a.txt', 'app/sub/deep.txt', 'app/link.txt', 'data/c.txt'], ['data/sub', 'other']],
    ['l1/a.txt', ['l1', 'l2', 'app/a.txt'], ['data', 'other']],
    ['escape/sub', ['escape', 'data/sub', 'data/sub/d'], ['data/c.txt', 'other']],
    ['data', ['data', 'data/c.txt', 'data/sub/d'], ['app', 'other']],
    ['app/../data/c.txt', ['data/c.txt'], ['app']],
    ['missing/y', [], ['app', 'data', 'other']],
    ['loop/x', ['loop'], ['app', 'other']],
  ];

  test.each(cases)('%s', async (p, listed, notListed) => {
    const full = await walkContext(dir, null);
    const scoped = await walkContextScoped(dir, [p]);
    const paths = scoped.map((e) => e.path);
    for (const l of listed) expect(paths).toContain(l);
    for (const n of notListed) expect(paths.filter((q) => q === n || q.startsWith(`${n}/`))).toEqual([]);
    // Each listed entry is the whole walk's, and in the whole walk's order.
    const fullAt = new Map(full.map((e, i) => [e.path, i]));
    for (const e of scoped) expect(e).toEqual(full[fullAt.get(e.path) ?? -1]);
    const order = scoped.map((e) => fullAt.get(e.path) ?? -1);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  test('the tree of a directory a path ends at is listed whole, as a copy of it needs', async () => {
    const full = await walkContext(dir, null);
    const scoped = (await walkContextScoped(dir, ['l1'])).map((e) => e.path);
    expect(scoped).toEqual(
      expect.arrayContaining(full.map((e) => e.path).filter((q) => q.startsWith('app/'))),
    );
  });
});
