import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { contextEntries } from '../../src/context/entries';
import { PatternMatcher } from '../../src/context/pattern-matcher';
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
});
