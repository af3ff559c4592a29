import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contextEntries, entryMtime, withMode } from '../../src/context/entries';
import { PatternMatcher } from '../../src/context/pattern-matcher';
import type { ContextEntry } from '../../src/context/types';
import { tempDir, writeTree } from './support/data';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('contextEntries', () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = tempDir();
    root = path.join(dir, 'ctx');
    fs.mkdirSync(root);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('carries type, mode, owner, size, link target and content digest, and no times', async () => {
    writeTree(root, { 'bin/run': '#!/bin/sh\n', 'readme.md': 'hi', 'skip.log': 'x' });
    fs.chmodSync(path.join(root, 'bin/run'), 0o4755);
    fs.chmodSync(path.join(root, 'bin'), 0o750);
    fs.symlinkSync('readme.md', path.join(root, 'link'));
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const entries = await contextEntries(root, {
      matcher: PatternMatcher.create(['*.log']),
      cacheDir: path.join(dir, 'cache'),
    });
    expect(entries).toEqual([
      { path: 'bin', type: 'dir', mode: 0o750, uid, gid, size: 0 },
      { path: 'bin/run', type: 'file', mode: 0o4755, uid, gid, size: 10, sha256: sha('#!/bin/sh\n') },
      { path: 'link', type: 'symlink', mode: expect.any(Number), uid, gid, size: 0, linkTarget: 'readme.md' },
      {
        path: 'readme.md',
        type: 'file',
        mode: 0o644 & ~process.umask(),
        uid,
        gid,
        size: 2,
        sha256: sha('hi'),
      },
    ]);
  });

  test('the same content gives the same entries on a second run (cached) and after touching files', async () => {
    writeTree(root, { a: 'A', 'd/b': 'B' });
    const cacheDir = path.join(dir, 'cache');
    const first = await contextEntries(root, { cacheDir });
    fs.utimesSync(path.join(root, 'a'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    expect(await contextEntries(root, { cacheDir })).toEqual(first);
    expect(await contextEntries(root)).toEqual(first);
  });

  test('the mtime travels beside each entry (for the layer), never inside it (so never in a key)', async () => {
    writeTree(root, { old: 'o', 'd/f': 'f' });
    fs.utimesSync(path.join(root, 'old'), 1_000_000_000.75, 1_000_000_000.75);
    fs.utimesSync(path.join(root, 'd'), 1_600_000_000, 1_600_000_000);
    const entries = await contextEntries(root, { cacheDir: path.join(dir, 'cache') });
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const at = (p: string): ContextEntry => byPath.get(p) as ContextEntry;
    expect(entryMtime(at('old'))).toBe(1_000_000_000);
    expect(entryMtime(at('d'))).toBe(1_600_000_000);
    expect(entryMtime(at('d/f'))).toBe(Math.floor(fs.statSync(path.join(root, 'd/f')).mtimeMs / 1000));
    for (const e of entries) {
      expect(Object.keys(e)).not.toContain('mtime');
      expect(JSON.stringify(e)).not.toMatch(/time/);
    }
    expect(entryMtime({ ...at('old') })).toBeUndefined();
    // A normalised copy (context modes) still carries the walk's mtime, so COPY need not lstat again.
    const normalised = withMode(at('old'), 0o644);
    expect(normalised.mode).toBe(0o644);
    expect(entryMtime(normalised)).toBe(1_000_000_000);
  });
});
