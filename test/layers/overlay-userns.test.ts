/**
 * Overlay mounts in a user namespace, as a rootless build makes them (issue 17): the kernel refuses
 * `redirect_dir=off` there, so the mount takes `redirect_dir=nofollow`, which also keeps the upper dir free of
 * redirects. A child in a real user namespace (`unshare --user --map-root-user --mount`) mounts through the same
 * code and writes through the mount; the change lands in the upper dir as plain files.
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inUserNamespace } from '../../src/layers/user-namespace';
import { childEnv, transpileSources } from '../helpers/child-modules';

let work: string;
let src: string;

beforeAll(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsbuild-overlay-userns-'));
  src = await transpileSources(path.join(work, 'build'), ['layers']);
});

afterAll(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

test('outside a user namespace the identity map says so', () => {
  expect(inUserNamespace()).toBe(false);
});

test('a mount with an upper dir works in a user namespace, and renaming a lower dir leaves no redirect', async () => {
  const dir = path.join(work, 'mnt');
  for (const d of ['lower/sub', 'upper', 'work', 'merged', 'scratch'])
    await fsp.mkdir(path.join(dir, d), { recursive: true });
  await fsp.writeFile(path.join(dir, 'lower/sub/file'), 'from below\n');
  // The user namespace maps only root: the dirs must be usable by the mapped root (they are root's here).
  await fsp.chmod(work, 0o755);
  const script = `
    const { mountOverlay } = require(${JSON.stringify(path.join(src, 'layers', 'overlay.js'))});
    const { inUserNamespace } = require(${JSON.stringify(path.join(src, 'layers', 'user-namespace.js'))});
    const fs = require('node:fs');
    const d = ${JSON.stringify(dir)};
    (async () => {
      if (!inUserNamespace()) throw new Error('not in a user namespace');
      const m = await mountOverlay({ lowers: [d + '/lower'], upper: d + '/upper', work: d + '/work', target: d + '/merged', scratch: d + '/scratch' });
      fs.writeFileSync(d + '/merged/new', 'written above\\n');
      // A lower directory renamed: with redirects off the rename is refused (EXDEV) or copied, never a redirect.
      try { fs.renameSync(d + '/merged/sub', d + '/merged/moved'); } catch (e) { if (e.code !== 'EXDEV') throw e; console.log('EXDEV'); }
      await m.unmount();
      console.log('mounted');
    })().catch((e) => { console.error(e.message); process.exit(1); });
  `;
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', process.execPath, '-e', script], {
    encoding: 'utf8',
    env: childEnv(),
  });
  expect(r.stderr).toBe('');
  expect(r.stdout).toContain('mounted');
  expect(await fsp.readFile(path.join(dir, 'upper/new'), 'utf8')).toBe('written above\n');
  // No redirect xattr anywhere in the upper dir.
  const attrs = spawnSync('getfattr', ['-R', '-d', '-m', '.', path.join(dir, 'upper')], { encoding: 'utf8' });
  expect(attrs.stdout).not.toContain('redirect');
});
